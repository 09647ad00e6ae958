"""Leave-one-city-out F1 of an ensemble: the mean probability of several fold models per city.

Run:  .venv/bin/python bench/learned_ensemble.py oscd-train.npz MODELS_A MODELS_B [...] [--jobs 2]

Each MODELS folder holds `loco-<city>.onnx` for every city in the training file (from
`python -m sitewatch.train prepare` / `plan`, e.g. two recipes or two seeds). For each
held-out city the members trained without it are averaged; the threshold and minimum
region are chosen on that fold's training cities only (the members' mean probability on
them, `sitewatch.train.fit.choose_postprocessing`), never on the held-out city. Needs the
[train] extra. Inputs are the training file's arrays, so figures can differ by a few
thousandths from `sitewatch bench oscd`, which reads the rasters.
"""

from __future__ import annotations

import argparse
import sys
from concurrent.futures import ProcessPoolExecutor
from functools import partial
from pathlib import Path

import numpy as np

from sitewatch.bench.metrics import Counts, confusion
from sitewatch.detect.learned import learned_score, load_model
from sitewatch.train.data import TrainingData
from sitewatch.train.fit import choose_postprocessing, remove_small


def mean_probability(members: list, city) -> np.ndarray:
    total = np.zeros(city.changed.shape, dtype="float32")
    for model, bands in members:
        total += np.nan_to_num(learned_score(city.before[bands], city.after[bands], model))
    return total / len(members)


_DATA: TrainingData | None = None


def _load_data(path: Path) -> None:
    """Worker start: decode the training file once per process, not once per fold."""
    global _DATA
    _DATA = TrainingData.load(path)


def fold(held_out: str, model_dirs: list[Path]) -> tuple[str, float, int, Counts]:
    data = _DATA
    assert data is not None
    members = []
    for folder in model_dirs:
        model = load_model(folder / f"loco-{held_out}.onnx")
        members.append((model, data.band_indices(model.bands)))
    training = [c for name, c in data.cities.items() if name != held_out]
    threshold, min_px, _ = choose_postprocessing(
        [mean_probability(members, c) for c in training], [c.changed for c in training]
    )
    city = data.cities[held_out]
    mask = remove_small(mean_probability(members, city) > threshold, min_px)
    return held_out, threshold, min_px, confusion(mask, city.changed)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", type=Path, help="training file from `python -m sitewatch.train prepare`")
    parser.add_argument("model_dirs", type=Path, nargs="+", help="folders of loco-<city>.onnx fold models")
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args()
    if not args.data.is_file():
        sys.exit(f"error: {args.data}: no such training file; make it with `python -m sitewatch.train prepare`")
    with np.load(args.data) as z:  # city names only, without decoding the images
        cities = sorted({k.split("/")[0] for k in z.files if "/" in k})
    missing = [
        str(d / f"loco-{c}.onnx") for d in args.model_dirs for c in cities if not (d / f"loco-{c}.onnx").is_file()
    ]
    if missing:
        sys.exit(
            f"error: {len(missing)} fold model(s) missing, e.g. {missing[0]}; "
            "train them with `python -m sitewatch.train plan`"
        )
    pooled = Counts()
    print(f"{'city':12s} {'threshold':>9s} {'min px':>6s} {'precision':>9s} {'recall':>6s} {'F1':>6s}")
    with ProcessPoolExecutor(args.jobs, initializer=_load_data, initargs=(args.data,)) as pool:
        for name, threshold, min_px, counts in pool.map(partial(fold, model_dirs=args.model_dirs), cities):
            pooled += counts
            scores = f"{counts.precision:9.3f} {counts.recall:6.3f} {counts.f1:6.3f}"
            print(f"{name:12s} {threshold:9.2f} {min_px:6d} {scores}", flush=True)
    print(
        f"pooled ({len(args.model_dirs)} members): precision {pooled.precision:.3f}, recall {pooled.recall:.3f}, "
        f"F1 {pooled.f1:.3f}, IoU {pooled.iou:.3f}"
    )


if __name__ == "__main__":
    main()
