"""Break-detector throughput in pixel series per second, beside a plain-numpy per-pixel reference.

Run:  .venv/bin/python bench/timeseries.py [--data ../shared/data/oscd] [--dates 100] [--pixels 100000]

The series are real: pixels of OSCD Beirut (10 ground bands), `--dates` looks alternating
in blocks between the two real dates with gain and pixel noise and cloud masks
(`sitewatch.bench.series`). The reference is the same best mean-shift split written the
plain way, one pixel at a time with numpy (`per_pixel_reference`), timed on a subset in
the same process; the ratio is the figure to compare between runs on a shared machine.
"""

from __future__ import annotations

import argparse
import time
import warnings
from pathlib import Path

import numpy as np

from sitewatch.bench.datasets import oscd_scenes
from sitewatch.bench.series import labelled_series
from sitewatch.detect.timeseries import detect_breaks, observation_noise, per_pixel_reference
from sitewatch.imagery import load_pair
from sitewatch.train.data import S2_BANDS


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path("../shared/data/oscd"))
    parser.add_argument("--dates", type=int, default=100)
    parser.add_argument("--pixels", type=int, default=100_000)
    parser.add_argument("--reference-pixels", type=int, default=300)
    args = parser.parse_args()
    warnings.filterwarnings("ignore", module="rasterio")

    scene = next(oscd_scenes(args.data, ["beirut"]))
    pair = load_pair(scene.before, scene.after, geobox=scene.geobox)
    b = pair.before.sel(band=list(S2_BANDS)).values
    a = pair.after.sel(band=list(S2_BANDS)).values
    built = labelled_series(
        b, a, scene.changed, pair.files[0].time.value, pair.files[1].time.value, looks=args.dates // 2
    )
    series = np.ascontiguousarray(built.series[:, :, : args.pixels])
    t, bands, n = series.shape
    print(f"series: OSCD beirut, {n:,} pixels x {t} dates x {bands} bands, {built.cloud_share:.0%} clouded")

    start = time.perf_counter()
    detect_breaks(series)
    vectorised = time.perf_counter() - start
    noise = observation_noise(series)
    subset = series[:, :, : args.reference_pixels]
    start = time.perf_counter()
    per_pixel_reference(subset, noise)
    reference = (time.perf_counter() - start) / subset.shape[2]
    print(f"{'plain numpy, per pixel':26s} {1 / reference:12,.0f} series/s  (timed on {subset.shape[2]} pixels)")
    print(f"{'sitewatch detect_breaks':26s} {n / vectorised:12,.0f} series/s  ({reference * n / vectorised:.0f}x)")


if __name__ == "__main__":
    main()
