"""Is the learned detector's leave-one-city-out score limited by its threshold or by its ranking?

Run:  .venv/bin/python bench/learned_folds.py --models-dir MODELS [--data ../shared/data/oscd]

MODELS holds `loco-<city>.onnx` for every OSCD city (`sitewatch model plan`).
For each city its fold model's probability map is scored three ways:

* F1 at the model's own threshold (chosen on its training cities; no minimum region here,
  so it can differ slightly from `sitewatch bench oscd --cv loco`);
* the best F1 any threshold would give on that city: a diagnostic upper bound, never a
  setting (it is chosen on the test city);
* average precision (area under precision-recall), which no threshold affects.

Pooled over cities: F1 at the own thresholds, F1 with every city at its best threshold,
F1 with one threshold per city chosen together for the best pooled F1 (the true ceiling of
any per-city threshold rule: pooled F1 gains more from silencing a city with little change
than that city's own F1 shows; `sitewatch.bench.metrics.best_pooled_thresholds`), and AP.
When even that ceiling leaves pooled F1 low, no threshold rule can fix it: the model ranks
changed pixels too poorly on unseen cities.
"""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

import numpy as np

from sitewatch.base.errors import InputError
from sitewatch.bench.datasets import oscd_cities, oscd_scenes
from sitewatch.bench.metrics import Counts, best_pooled_thresholds, confusion, counts_above
from sitewatch.detect.learned import learned_score, load_model
from sitewatch.imagery import load_pair

THRESHOLDS = np.round(np.arange(0.05, 0.96, 0.05), 2)
#: Finer, for the ceiling of per-city thresholds chosen together.
FINE_THRESHOLDS = np.round(np.arange(0.01, 0.995, 0.01), 2)
#: Where THRESHOLDS lie in FINE_THRESHOLDS, so that one sort per city gives both curves.
ON_COARSE_GRID = np.isin(FINE_THRESHOLDS, THRESHOLDS)
assert ON_COARSE_GRID.sum() == THRESHOLDS.size


def average_precision(prob: np.ndarray, changed: np.ndarray) -> float:
    order = np.argsort(-prob, kind="stable")
    hits = changed[order]
    tp = np.cumsum(hits)
    precision = tp / np.arange(1, hits.size + 1)
    return float((precision * hits).sum() / max(hits.sum(), 1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models-dir", type=Path, required=True)
    parser.add_argument("--data", type=Path, default=Path("../shared/data/oscd"))
    args = parser.parse_args()
    warnings.filterwarnings("ignore", module="rasterio")
    try:
        cities = oscd_cities(args.data)
    except InputError as exc:
        sys.exit(f"error: {exc}")
    missing = [c for c in cities if not (args.models_dir / f"loco-{c}.onnx").is_file()]
    if missing:
        sys.exit(
            f"error: {args.models_dir} lacks loco-<city>.onnx for {', '.join(missing)}; "
            "train them with `sitewatch model plan`"
        )
    own_total, best_total = Counts(), Counts()
    names, probs, labels, curves = [], [], [], []
    print(f"{'city':12s} {'threshold':>9s} {'F1 own':>7s} {'best t':>6s} {'F1 best':>7s} {'AP':>6s}")
    for scene in oscd_scenes(args.data):
        model = load_model(args.models_dir / f"loco-{scene.name}.onnx")
        pair = load_pair(scene.before, scene.after, geobox=scene.geobox)
        prob = learned_score(
            pair.before.sel(band=list(model.bands)).values, pair.after.sel(band=list(model.bands)).values, model
        )
        keep = scene.scored & np.isfinite(prob)
        prob, changed = prob[keep], scene.changed[keep]
        own = confusion(prob > model.threshold, changed)
        curve_tp, curve_fp = counts_above(prob, changed, FINE_THRESHOLDS)
        coarse_tp, coarse_fp = curve_tp[ON_COARSE_GRID], curve_fp[ON_COARSE_GRID]
        best_t = THRESHOLDS[np.argmax(2 * coarse_tp / np.maximum(coarse_tp + coarse_fp + changed.sum(), 1))]
        best = confusion(prob > best_t, changed)
        own_total += own
        best_total += best
        names.append(scene.name)
        probs.append(prob)
        labels.append(changed)
        curves.append((curve_tp, curve_fp))
        print(
            f"{scene.name:12s} {model.threshold:9.2f} {own.f1:7.3f} {best_t:6.2f} {best.f1:7.3f} "
            f"{average_precision(prob, changed):6.3f}"
        )
    pooled_ap = average_precision(np.concatenate(probs), np.concatenate(labels))
    choice, ceiling = best_pooled_thresholds(
        np.array([c[0] for c in curves]), np.array([c[1] for c in curves]), np.array([lab.sum() for lab in labels])
    )
    print(
        f"pooled: F1 at own thresholds {own_total.f1:.3f}, F1 at per-city best thresholds "
        f"{best_total.f1:.3f} (diagnostic), F1 at per-city thresholds chosen together {ceiling:.3f} "
        f"(the ceiling of any per-city threshold, chosen on the test labels), AP {pooled_ap:.3f}"
    )
    chosen = ", ".join(f"{name} {FINE_THRESHOLDS[i]:.2f}" for name, i in zip(names, choice, strict=True))
    print(f"thresholds for that ceiling: {chosen}")


if __name__ == "__main__":
    main()
