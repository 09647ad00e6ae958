"""Detector throughput on the largest OSCD city, in km² per second, against a numpy reference.

Run:  .venv/bin/python bench/throughput.py [--data ../shared/data/oscd] [--repeat 5] [--model X.onnx ...]

`--model` also times other change models (e.g. one fold model against the shipped
ensemble) through the same detector, in the same run.

The machines are shared and noisy, so every detector is timed in the same process as a
reference: plain numpy change vector analysis (Euclidean norm of the band differences) on
the same array. The ratio `reference / detector` is the figure to compare between runs.
Times cover the detector only (score, threshold, clean-up), not reading the files. The
learned detector runs on ONNX Runtime with all cores (two on the project machines): its
tiles side by side, one per core; the row "learned, one tile at a time" times its score
as it ran before 2026-12-04 (every core on each tile in turn), in the same run.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import warnings
from pathlib import Path

import numpy as np

from sitewatch.bench.datasets import oscd_scenes
from sitewatch.detect import METHODS, default_config, detect
from sitewatch.detect.learned import choose_model, learned_score
from sitewatch.imagery import load_pair


def numpy_cva(before: np.ndarray, after: np.ndarray) -> np.ndarray:
    """The textbook reference: |after - before| over bands, then a mean threshold."""
    magnitude = np.sqrt(((after - before) ** 2).sum(axis=0))
    return magnitude > np.nanmean(magnitude)


def median_time(repeat: int, run) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path("../shared/data/oscd"))
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--model", type=Path, action="append", default=[], help="also time this ONNX change model")
    args = parser.parse_args()
    missing = [str(p) for p in args.model if not p.is_file()]
    if missing:
        sys.exit(f"error: --model {missing[0]}: no such file; give an .onnx file made by `sitewatch model`")
    warnings.filterwarnings("ignore", module="rasterio")

    scenes = {s.name: s for s in oscd_scenes(args.data)}
    largest = max(scenes.values(), key=lambda s: s.changed.size)
    pair = load_pair(largest.before, largest.after, geobox=largest.geobox)
    area_km2 = largest.changed.size * pair.pixel_area_m2 / 1e6
    before, after = pair.before, pair.after
    print(
        f"scene: OSCD {largest.name}, {largest.changed.shape[0]}x{largest.changed.shape[1]} px, "
        f"{len(pair.bands)} bands, {area_km2:.1f} km², median of {args.repeat} runs"
    )
    b32, a32 = before.values.astype("float32"), after.values.astype("float32")
    reference = median_time(args.repeat, lambda: numpy_cva(b32, a32))
    print(f"{'numpy CVA reference':27s} {reference * 1000:8.1f} ms  {area_km2 / reference:10.1f} km²/s")
    runs = [(f"sitewatch {method}", default_config(method)) for method in METHODS]
    for path in args.model:
        runs.append((f"learned {path.parent.name}/{path.name}", default_config("learned", model=str(path))))
    model = choose_model(list(pair.bands))
    b_model, a_model = before.sel(band=list(model.bands)).values, after.sel(band=list(model.bands)).values
    timed = [(label, lambda c=config: detect(before, after, c, pair.pixel_area_m2)) for label, config in runs]
    for side_by_side, label in ((True, "learned score only"), (False, "learned, one tile at a time")):
        timed.append((label, lambda s=side_by_side: learned_score(b_model, a_model, model, side_by_side=s)))
    for label, run in timed:
        seconds = median_time(args.repeat, run)
        print(
            f"{label:27s} {seconds * 1000:8.1f} ms  {area_km2 / seconds:10.1f} km²/s"
            f"  ({seconds / reference:.1f}x the reference time; a 25 km² site: {25 / (area_km2 / seconds):.2f} s)"
        )


if __name__ == "__main__":
    main()
