"""Cross-validation of the learned detector on OSCD: which model scores which city.

* `none`: the shipped model for every city (it was trained on all of them: in-sample).
* `fixed`: the model trained without aguasclaras, beirut, cupertino and paris scores
  those four cities only.
* `loco`: leave-one-city-out; city C is scored by the model trained on the other 13.

Fold models live in a folder (`--models-dir`, by default the user cache). The benchmark
never trains: a missing fold model is refused with the commands that make it
(`sitewatch model plan`, or `python scripts/restore_models.py` for the shipped recipe's
fold models, kept in the project's git history; see docs/models.md).
"""

from __future__ import annotations

import os
from pathlib import Path

from sitewatch.base.errors import InputError
from sitewatch.base.vocab import FIXED_TEST_CITIES, CrossValidation, values
from sitewatch.detect.learned import FIXED_SPLIT_MODEL

CV_MODES = values(CrossValidation)


def default_models_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "sitewatch" / "oscd-models"


def fold_model_name(cv: str, city: str) -> str | None:
    """File name of the model that scores `city` under `cv` (None: the shipped model)."""
    if cv == "loco":
        return f"loco-{city}.onnx"
    if cv == "fixed":
        return "fixed.onnx"
    return None


def fold_cities(cv: str, cities: list[str]) -> list[str]:
    """The cities a cross-validation mode scores."""
    if cv == "fixed":
        return [c for c in cities if c in FIXED_TEST_CITIES]
    return cities


def fold_model(cv: str, city: str, models_dir: Path) -> Path | None:
    """Path of the model that scores `city` under `cv` (None: the shipped model)."""
    name = fold_model_name(cv, city)
    if name is None:
        return None
    path = models_dir / name
    if path.is_file():
        return path
    if cv == "fixed" and FIXED_SPLIT_MODEL.is_file():  # the fixed-split model ships with the package
        return FIXED_SPLIT_MODEL
    raise InputError(
        f"{path}: no fold model for {city}; restore the shipped recipe's folds with "
        "`python scripts/restore_models.py folds` and build them with `sitewatch model ensemble`, "
        f"or train them with `sitewatch model plan oscd-train.npz --out {models_dir}` (docs/models.md)"
    )
