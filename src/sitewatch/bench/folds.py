"""Cross-validation of the learned detector on OSCD: which model scores which city.

* `none`: the shipped model for every city (it was trained on all of them: in-sample).
* `fixed`: the model trained without aguasclaras, beirut, cupertino and paris scores
  those four cities only.
* `loco`: leave-one-city-out; city C is scored by the model trained on the other 13.

Fold models live in a folder (`--models-dir`, by default the user cache). A fold model
that is missing is trained there and then: one network of the default recipe, member R1
of the shipped ensemble (`python -m sitewatch.train`, needs the `[train]` extra: about 5
minutes per fold on two CPU cores), so its scores are those of one member, not of the
three-member ensemble; models already there are reused, so a second benchmark run only
predicts.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from sitewatch.errors import InputError

CV_MODES = ("none", "fixed", "loco")


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
    from sitewatch.train.data import FIXED_TEST_CITIES

    if cv == "fixed":
        return [c for c in cities if c in FIXED_TEST_CITIES]
    return cities


def ensure_fold_model(
    cv: str, city: str, data_dir: Path, models_dir: Path, log: Callable[[str], None] | None = None
) -> Path | None:
    """Path of the fold model for `city`, training it first when it is missing."""
    name = fold_model_name(cv, city)
    if name is None:
        return None
    path = models_dir / name
    if path.is_file():
        return path
    if cv == "fixed":  # the fixed-split model ships with the package (the tests use it)
        from sitewatch.detect.learned import FIXED_SPLIT_MODEL

        if FIXED_SPLIT_MODEL.is_file():
            return FIXED_SPLIT_MODEL
    try:
        from sitewatch.train.fit import TrainConfig, export_onnx, train
    except ImportError as exc:
        raise InputError(
            f"{path}: fold model missing and PyTorch is not installed to train it; "
            "`pip install -e '.[train]'` or pass --models-dir with the trained fold models"
        ) from exc
    from sitewatch.train.data import FIXED_TEST_CITIES, TrainingData, prepare_oscd

    models_dir.mkdir(parents=True, exist_ok=True)
    data_file = models_dir / "oscd-train.npz"
    if not data_file.is_file():
        if log:
            log("preparing OSCD training data")
        prepare_oscd(data_dir).save(data_file)
    data = TrainingData.load(data_file)
    left_out = {city} if cv == "loco" else set(FIXED_TEST_CITIES)
    model = train(data, [c for c in data.cities if c not in left_out], TrainConfig(), log=log)
    return export_onnx(model, path, command=f"sitewatch bench oscd {data_dir} --method learned --cv {cv}")
