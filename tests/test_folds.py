"""The fold models kept in folds/: each is what its folder says, trained without its own city.

The leave-one-city-out figures rest on these files, so a file that saw the city it is
named after, or a folder whose recipe is not one of the shipped ensemble's members,
would make those figures wrong without any test of detection noticing.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from sitewatch.detect.learned import MODELS_DIR, load_model
from sitewatch.train.config import recorded_settings

FOLDS = Path(__file__).resolve().parents[1] / "folds"
#: Each folder and the frozen encoder (`pretrained`) of the shipped member it holds the folds of.
PRETRAINED = {"r1": "none", "fom": "csmask-b4", "foam": "csmask-b4-l2a"}


def _fold_files(recipe: str) -> list[Path]:
    return sorted((FOLDS / recipe).glob("loco-*.onnx"))


def test_every_member_of_the_shipped_ensemble_has_a_fold_folder():
    shipped = load_model(MODELS_DIR / "oscd-rgbn.onnx")
    recipes = {recorded_settings(m["train_config"])["pretrained"]: m for m in shipped.members}
    assert set(recipes) == set(PRETRAINED.values())
    for folder, pretrained in PRETRAINED.items():
        files = _fold_files(folder)
        cities = {path.stem.removeprefix("loco-") for path in files}
        assert cities == set(shipped.train_cities), f"folds/{folder} lacks {set(shipped.train_cities) - cities}"
        expected = recorded_settings(recipes[pretrained]["train_config"])
        for path in files:
            assert recorded_settings(load_model(path).metadata["train_config"]) == expected, path


@pytest.mark.parametrize("recipe", PRETRAINED)
def test_fold_models_never_saw_their_own_city(recipe):
    every_city = load_model(MODELS_DIR / "oscd-rgbn.onnx").train_cities
    for path in _fold_files(recipe):
        city = path.stem.removeprefix("loco-")
        model = load_model(path)
        assert city in every_city, path
        assert model.train_cities == [c for c in every_city if c != city], path
        assert f"--exclude {city} " in model.metadata["command"], path  # the recorded command redoes it
        assert model.bands == ("blue", "green", "red", "nir"), path
