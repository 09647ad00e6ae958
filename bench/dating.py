"""Dating accuracy on series built from the 14 real OSCD pairs (per city and pooled).

Run:  .venv/bin/python bench/dating.py [--data ../shared/data/oscd] [--looks 6] [--two-changes]

Each series has `--looks` looks of each real date with their own gain, noise and cloud
blobs (`sitewatch.bench.series`); a changed pixel is correctly dated when its bracket is
the last look of date 1 and a look of date 2. Prints detection precision and recall
against the labels, the share of detected changed pixels dated correctly, and the share
of unchanged pixels flagged, and the share of detected changed pixels given a further
phase although the series holds one change (false phases). With `--two-changes` it also
reads each pair forwards then backwards (a second real change) and prints the share of
changed pixels whose both changes are dated (`sitewatch.bench.series.two_change_counts`).
"""

from __future__ import annotations

import argparse
import warnings
from pathlib import Path

from sitewatch.bench.datasets import oscd_scenes
from sitewatch.bench.series import dating_counts, two_change_counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path("../shared/data/oscd"))
    parser.add_argument("--looks", type=int, default=6)
    parser.add_argument("--two-changes", action="store_true", help="also date series with two real changes")
    args = parser.parse_args()
    warnings.filterwarnings("ignore", module="rasterio")
    total = {"tp": 0, "fp": 0, "fn": 0, "dated": 0, "unchanged": 0, "extra_phases": 0}
    header = f"{'city':12s} {'precision':>9s} {'recall':>7s} {'dated':>7s} {'false flags':>11s} {'clouded':>8s}"
    print(header + f" {'false phases':>12s}")
    for scene in oscd_scenes(args.data):
        c = dating_counts(scene, looks=args.looks)
        tp, fp, fn, dated = c["tp"], c["fp"], c["fn"], c["dated"]
        for key in total:
            total[key] += c[key]
        print(
            f"{scene.name:12s} {tp / max(tp + fp, 1):9.3f} {tp / max(tp + fn, 1):7.3f} {dated / max(tp, 1):7.3f} "
            f"{fp / max(c['unchanged'], 1):11.3f} {c['cloud_share']:8.2f} {c['extra_phases'] / max(tp + fp, 1):12.3f}"
        )
    t = total
    print(
        f"{'pooled':12s} {t['tp'] / (t['tp'] + t['fp']):9.3f} {t['tp'] / (t['tp'] + t['fn']):7.3f} "
        f"{t['dated'] / t['tp']:7.3f} {t['fp'] / t['unchanged']:11.3f} {'':8s} "
        f"{t['extra_phases'] / (t['tp'] + t['fp']):12.3f}"
    )
    if args.two_changes:
        print(f"\n{'city':12s} {'changed':>9s} {'found':>7s} {'both dated':>10s}")
        both = {"changed": 0, "found": 0, "both": 0}
        for scene in oscd_scenes(args.data):
            c = two_change_counts(scene, looks=args.looks)
            for key in both:
                both[key] += c[key]
            print(
                f"{scene.name:12s} {c['changed']:9d} {c['found'] / max(c['changed'], 1):7.3f} "
                f"{c['both'] / max(c['found'], 1):10.3f}"
            )
        print(
            f"{'pooled':12s} {both['changed']:9d} {both['found'] / both['changed']:7.3f} "
            f"{both['both'] / both['found']:10.3f}"
        )


if __name__ == "__main__":
    main()
