"""Training settings: the default recipe is the shipped ensemble's first member."""

import shlex

from sitewatch.detect.learned import MODELS_DIR, SHIPPED_MODELS, load_model
from sitewatch.train.config import TRAIN_PROG, TrainConfig, as_recorded, command_line, recorded_settings


def test_the_default_recipe_is_the_shipped_ensembles_first_member():
    """`plan` and the benchmark's missing fold models train member R1 unless told otherwise."""
    first_member = recorded_settings(load_model(MODELS_DIR / SHIPPED_MODELS[0]).members[0]["train_config"])
    default = as_recorded(TrainConfig())
    assert {**first_member, "seed": default["seed"]} == default


def test_a_recorded_command_reads_back_word_for_word():
    """Model files record their command with `command_line`; tests/test_folds.py reads it back with shlex."""
    argv = ["fit", "my data/oscd train.npz", "--out", "it's/loco-x.onnx", "--exclude", "saclay_e"]
    recorded = command_line(argv)
    assert recorded.startswith(TRAIN_PROG + " ")
    assert shlex.split(recorded) == [*shlex.split(TRAIN_PROG), *argv]
