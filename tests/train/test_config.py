"""Training settings: the default recipe is the shipped ensemble's first member."""

import json
from dataclasses import asdict

from sitewatch.detect.learned import MODELS_DIR, SHIPPED_MODELS, load_model
from sitewatch.train.config import FIRST_RECIPE, TrainConfig


def _as_json(config: TrainConfig) -> dict:
    return json.loads(json.dumps(asdict(config)))


def test_the_default_recipe_is_the_shipped_ensembles_first_member():
    """`plan` and the benchmark's missing fold models train member R1 unless told otherwise."""
    recorded = json.loads(load_model(MODELS_DIR / SHIPPED_MODELS[0]).members[0]["train_config"])
    first_member = {**_as_json(FIRST_RECIPE), **recorded}  # settings it predates, as _trained_with reads them
    default = _as_json(TrainConfig())
    assert {**first_member, "seed": default["seed"]} == default
