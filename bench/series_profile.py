"""Where the series job's time and memory go, stage by stage, against the plain read of its inputs.

Builds `--looks` dated 13-band uint16 GeoTIFFs (tiled, pixel-interleaved, as commercial and
exported scenes often are) of a 541 x 540 px (29 km²) window of the real OSCD Beirut pair:
half the looks of each real date, each with its own gain and noise. Then, each in a fresh
process so that peak memory is its own:

- the reference: one plain windowed `rasterio` read of every file, all bands;
- `monitor` cold (empty cube cache) and warm (cube cached), with the job's own stage timings.

Prints a table of seconds per stage, the ratios to the reference read, and peak RSS against
the size of the cube (looks x 13 bands x pixels x 4 bytes).

    python bench/series_profile.py --looks 100
    python bench/series_profile.py --looks 25 50 100 200     # memory growth with looks
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

import numpy as np

WINDOW = (541, 540)  # rows, cols
BANDS = 13


def build(folder: Path, looks: int, data: Path) -> Path:
    """The dated scenes and a site file covering the window."""
    import rasterio

    from sitewatch.bench.datasets import OSCD_IMAGES
    from sitewatch.imagery import load_pair
    from sitewatch.sites import Site, write_sites

    city = data / OSCD_IMAGES / "beirut"
    pair = load_pair(city / "imgs_1", city / "imgs_2", geobox=None, site=_city_site(city))
    rows, cols = WINDOW
    gb = pair.geobox[:rows, :cols]
    profile = {
        "driver": "GTiff",
        "width": cols,
        "height": rows,
        "count": BANDS,
        "dtype": "uint16",
        "crs": str(gb.crs),
        "transform": gb.affine,
        "tiled": True,
        "blockxsize": 256,
        "blockysize": 256,
        "interleave": "pixel",
        "compress": "deflate",
        "nodata": 0,
    }
    rng = np.random.default_rng(0)
    folder.mkdir(parents=True, exist_ok=True)
    start = date(2015, 1, 1)
    for i in range(looks):
        real = (pair.before if i < looks // 2 else pair.after).values[:, :rows, :cols]
        look = real * (1 + 0.01 * rng.standard_normal((BANDS, 1, 1))) + rng.normal(0, 5, real.shape)
        look = np.clip(np.nan_to_num(look, nan=0), 1, 65535).astype("uint16")
        with rasterio.open(folder / f"beirut_{start + timedelta(days=5 * i)}.tif", "w", **profile) as dst:
            dst.write(look)
            for b, name in enumerate(pair.bands, start=1):
                dst.set_band_description(b, name)
    site = Site(id="beirut-window", name="Beirut window", geometry=_window_polygon(gb))
    site_file = folder.parent / "site.geojson"
    write_sites([site], site_file)
    return site_file


def _city_site(city: Path):
    from sitewatch.sites import read_sites

    return read_sites(city / f"{city.name}.geojson").get(None)


def _window_polygon(gb):
    from shapely.geometry import box

    from sitewatch.base.geo import WGS84, reproject_geometry

    inner = box(*gb.boundingbox).buffer(-250)  # the default margin then stays inside the scenes
    return reproject_geometry(inner, gb.crs, WGS84)


def worker(mode: str, folder: Path, site_file: Path, cache: Path) -> dict:
    """One measurement in this process: 'read' or 'cold' / 'warm' monitor runs."""
    started = time.perf_counter()
    out: dict = {}
    if mode == "read":
        import rasterio

        for path in sorted(folder.glob("*.tif")):
            with rasterio.open(path) as src:
                src.read()
    else:
        from sitewatch.jobs.series import MonitorConfig, run_monitor
        from sitewatch.sites import read_sites

        site = read_sites(site_file).get(None)
        files = sorted(folder.glob("*.tif"))
        config = MonitorConfig(start="2000-01-01", end="2100-01-01", sources=[str(folder)])
        run = run_monitor(site, config, cache_dir=cache)
        out = {"stages": run.timings_s, "scenes": len(run.cube), "events": len(run.events), "files": len(files)}
        out["cube_bytes"] = int(run.cube.data.size * 4)
    out["seconds"] = time.perf_counter() - started
    out["peak_rss_bytes"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    return out


def run_worker(mode: str, folder: Path, site_file: Path, cache: Path) -> dict:
    command = [sys.executable, __file__, "--worker", mode, str(folder), str(site_file), str(cache)]
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--looks", type=int, nargs="+", default=[100])
    parser.add_argument("--data", type=Path, default=Path("../shared/data/oscd"))
    parser.add_argument("--worker", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        mode, folder, site_file, cache = args.worker
        print(json.dumps(worker(mode, Path(folder), Path(site_file), Path(cache))))
        return
    for looks in args.looks:
        with tempfile.TemporaryDirectory() as tmp:
            root = Path(tmp)
            site_file = build(root / "scenes", looks, args.data)
            cache = root / "cache"
            read = run_worker("read", root / "scenes", site_file, cache)
            cold = run_worker("cold", root / "scenes", site_file, cache)
            warm = run_worker("warm", root / "scenes", site_file, cache)
        cube = cold["cube_bytes"]
        print(
            f"\n{looks} looks ({cold['files']} files, {cold['scenes']} kept), cube {cube / 2**30:.2f} GiB, "
            f"{cold['events']} events"
        )
        print(f"{'stage':58s} {'cold s':>8s} {'warm s':>8s}")
        for stage in dict.fromkeys([*cold["stages"], *warm["stages"]]):
            print(f"{stage[:58]:58s} {cold['stages'].get(stage, 0):8.2f} {warm['stages'].get(stage, 0):8.2f}")
        print(f"{'plain windowed read of every file (reference)':58s} {read['seconds']:8.2f}")
        print(f"{'whole job (process, imports included)':58s} {cold['seconds']:8.2f} {warm['seconds']:8.2f}")
        print(
            f"cold / read {cold['seconds'] / read['seconds']:.2f}x (target 1.5x), warm {warm['seconds']:.1f} s "
            f"(target 3 s); peak RSS cold {cold['peak_rss_bytes'] / cube:.2f}x the cube, warm "
            f"{warm['peak_rss_bytes'] / cube:.2f}x (target 2x); read alone {read['peak_rss_bytes'] / 2**30:.2f} GiB"
        )


if __name__ == "__main__":
    main()
