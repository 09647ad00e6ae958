"""Training settings: the default recipe is the shipped ensemble's first member."""

from sitewatch.detect.learned import MODELS_DIR, SHIPPED_MODELS, load_model
from sitewatch.train.config import TrainConfig, as_recorded, recorded_settings


def test_the_default_recipe_is_the_shipped_ensembles_first_member():
    """`plan` and the benchmark's missing fold models train member R1 unless told otherwise."""
    first_member = recorded_settings(load_model(MODELS_DIR / SHIPPED_MODELS[0]).members[0]["train_config"])
    default = as_recorded(TrainConfig())
    assert {**first_member, "seed": default["seed"]} == default
