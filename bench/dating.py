"""Dating accuracy on series built from the 14 real OSCD pairs (per city and pooled).

Run:  .venv/bin/python bench/dating.py [--data ../shared/data/oscd] [--looks 6]

Each series has `--looks` looks of each real date with their own gain, noise and cloud
blobs (`sitewatch.bench.series`); a changed pixel is correctly dated when its bracket is
the last look of date 1 and a look of date 2. Prints detection precision and recall
against the labels, the share of detected changed pixels dated correctly, and the share
of unchanged pixels flagged.
"""

from __future__ import annotations

import argparse
import warnings
from pathlib import Path

from sitewatch.bench.datasets import oscd_scenes
from sitewatch.bench.series import labelled_series
from sitewatch.detect.timeseries import detect_breaks
from sitewatch.imagery import load_pair
from sitewatch.train.data import S2_BANDS


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path("../shared/data/oscd"))
    parser.add_argument("--looks", type=int, default=6)
    args = parser.parse_args()
    warnings.filterwarnings("ignore", module="rasterio")
    total = {"tp": 0, "fp": 0, "fn": 0, "dated": 0, "unchanged": 0}
    print(f"{'city':12s} {'precision':>9s} {'recall':>7s} {'dated':>7s} {'false flags':>11s} {'clouded':>8s}")
    for scene in oscd_scenes(args.data):
        pair = load_pair(scene.before, scene.after, geobox=scene.geobox)
        b = pair.before.sel(band=list(S2_BANDS)).values
        a = pair.after.sel(band=list(S2_BANDS)).values
        built = labelled_series(
            b, a, scene.changed, pair.sources[0].time.value, pair.sources[1].time.value, looks=args.looks
        )
        result = detect_breaks(built.series)
        ref, flag = built.changed, result.changed
        correct = (result.last_before < built.looks_before) & (result.first_after >= built.looks_before)
        tp, fp, fn = int((flag & ref).sum()), int((flag & ~ref).sum()), int((~flag & ref).sum())
        dated = int((flag & ref & correct).sum())
        for key, value in (("tp", tp), ("fp", fp), ("fn", fn), ("dated", dated), ("unchanged", int((~ref).sum()))):
            total[key] += value
        print(
            f"{scene.name:12s} {tp / max(tp + fp, 1):9.3f} {tp / max(tp + fn, 1):7.3f} {dated / max(tp, 1):7.3f} "
            f"{fp / max(int((~ref).sum()), 1):11.3f} {built.cloud_share:8.2f}"
        )
    t = total
    print(
        f"{'pooled':12s} {t['tp'] / (t['tp'] + t['fp']):9.3f} {t['tp'] / (t['tp'] + t['fn']):7.3f} "
        f"{t['dated'] / t['tp']:7.3f} {t['fp'] / t['unchanged']:11.3f}"
    )


if __name__ == "__main__":
    main()
