"""CVA threshold rules on every band set and sensor at hand: which cut holds across them?

Run:  .venv/bin/python bench/threshold_rules.py [--oscd ../shared/data/oscd] [--landsat ../shared/data/landsat-cd]

For each scene the CVA score is computed as `detect` computes it (robust noise units,
3-pixel smoothing, 500 m² minimum region) on three band sets: OSCD with every ground band,
OSCD with red, green and blue only (as commercial RGB imagery), and the Landsat pairs
(30 m, 8-bit). Each rule then cuts the same score; pooled F1 per band set is printed, and
with `--per-scene` the cut each histogram rule chose. Fixed cuts are in robust standard
deviations; Kittler-Illingworth and Otsu are sitewatch's, triangle, Li and Yen
scikit-image's; "log" rules cut the logarithm of the score; the knee is CVA's default
(`sitewatch.detect.threshold.knee`).
"""

from __future__ import annotations

import argparse
import warnings
from pathlib import Path

import numpy as np
from skimage import filters

from sitewatch.bench import landsat_scenes, oscd_scenes
from sitewatch.bench.metrics import Counts, confusion
from sitewatch.detect.bitemporal import cva_score
from sitewatch.detect.cleanup import clean_mask, nan_mean_filter
from sitewatch.detect.core import detection_bands
from sitewatch.detect.threshold import kittler_illingworth


def cuts(score: np.ndarray) -> dict[str, float]:
    values = score[np.isfinite(score)]
    values = values[:: max(1, values.size // 500_000)]
    logs = np.log(np.maximum(values, 1e-3))
    out = {f"fixed {t}": t for t in (1.5, 2.0, 2.5, 3.0)}
    out["ki"] = kittler_illingworth(values)
    out["otsu"] = float(filters.threshold_otsu(values))
    out["triangle"] = float(filters.threshold_triangle(values))
    out["knee (triangle, at most 3; the default)"] = min(3.0, out["triangle"])
    out["triangle, 99.9 % clipped"] = float(filters.threshold_triangle(np.minimum(values, np.percentile(values, 99.9))))
    out["li"] = float(filters.threshold_li(values))
    out["yen"] = float(filters.threshold_yen(values))
    out["ki log"] = float(np.exp(kittler_illingworth(logs)))
    out["otsu log"] = float(np.exp(filters.threshold_otsu(logs)))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--oscd", type=Path, default=Path("../shared/data/oscd"))
    parser.add_argument("--landsat", type=Path, default=Path("../shared/data/landsat-cd"))
    parser.add_argument("--per-scene", action="store_true")
    args = parser.parse_args()
    warnings.filterwarnings("ignore", module="rasterio")
    from sitewatch.imagery import load_pair

    sets = {
        "OSCD, all bands": (lambda: oscd_scenes(args.oscd), None),
        "OSCD, RGB": (lambda: oscd_scenes(args.oscd), ["red", "green", "blue"]),
        "Landsat": (lambda: landsat_scenes(args.landsat), None),
    }
    totals: dict[tuple[str, str], Counts] = {}
    for name, (scenes, bands) in sets.items():
        for scene in scenes():
            pair = load_pair(scene.before, scene.after, geobox=scene.geobox)
            keys = bands or detection_bands(pair.bands, True)
            before = pair.before.sel(band=keys).values.astype("float32")
            after = pair.after.sel(band=keys).values.astype("float32")
            score = nan_mean_filter(cva_score(before, after), 3)
            chosen = cuts(score)
            for rule, cut in chosen.items():
                mask = clean_mask(np.nan_to_num(score, nan=-np.inf) > cut, pair.pixel_area_m2, min_area_m2=500.0)
                totals[(name, rule)] = totals.get((name, rule), Counts()) + confusion(mask, scene.changed, scene.scored)
            if args.per_scene:
                print(f"{name:16s} {scene.name:12s} " + " ".join(f"{r}={c:.2f}" for r, c in chosen.items()))
    rules = list(cuts(np.arange(100.0)))
    print(f"{'rule':40s}" + "".join(f"{n:>17s}" for n in sets))
    for rule in rules:
        print(f"{rule:40s}" + "".join(f"{totals[(n, rule)].f1:17.3f}" for n in sets))


if __name__ == "__main__":
    main()
