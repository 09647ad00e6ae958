"""Where the series job's time and memory go, stage by stage, against the plain read of its inputs.

Builds `--looks` dated 13-band uint16 GeoTIFFs (tiled, pixel-interleaved, as commercial and
exported scenes often are) of a 541 x 540 px (29 km²) window of the real OSCD Beirut pair:
half the looks of each real date, each with its own gain and noise. Then, each in a fresh
process so that peak memory is its own:

- the reference: one plain windowed `rasterio` read of every file, all bands, one thread
  (and, for context, the same read on every core);
- `monitor` cold (empty cube cache) and warm (cube cached), with the job's own stage
  timings, the peak RSS at the end of each stage, and the report rendered;
- with `--all-stages`, a cold run with radiometric normalisation and monthly composites.

Prints a table of seconds and peak memory per stage, the ratios to the reference read, and
peak RSS against the size of the cube (looks x 13 bands x pixels x 4 bytes).

    python bench/series_profile.py --looks 100
    python bench/series_profile.py --looks 25 50 100 200     # memory growth with looks
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

import numpy as np

from sitewatch.base.cores import peak_rss_bytes

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


class StageMemory:
    """A stage reporter that notes the process's peak RSS when each stage ends."""

    def __init__(self) -> None:
        self.peaks: dict[str, int] = {}
        self._running: list[str] = []

    def __call__(self, name: str | None) -> None:
        if name is not None:
            self._running.append(name)
        elif self._running:
            self.peaks[self._running.pop()] = peak_rss_bytes()


def worker(mode: str, folder: Path, site_file: Path, cache: Path) -> dict:
    """One measurement in this process: 'read', 'read-threads', or 'cold' / 'warm' / 'all' monitor runs."""
    started = time.perf_counter()
    out: dict = {}
    if mode.startswith("read"):
        from concurrent.futures import ThreadPoolExecutor

        import rasterio

        def read(path: Path) -> None:
            with rasterio.open(path) as src:
                src.read()

        from sitewatch.base.cores import usable_cores

        with ThreadPoolExecutor(max_workers=usable_cores() if mode == "read-threads" else 1) as pool:
            list(pool.map(read, sorted(folder.glob("*.tif"))))
    else:
        from sitewatch.base.vocab import Composite
        from sitewatch.jobs.series import MonitorConfig, run_monitor, write_monitor_outputs
        from sitewatch.sites import read_sites

        site = read_sites(site_file).get(None)
        files = sorted(folder.glob("*.tif"))
        config = MonitorConfig(start="2000-01-01", end="2100-01-01", sources=[str(folder)])
        if mode == "all":
            config.normalise, config.composite = True, Composite.month
        memory = StageMemory()
        run = run_monitor(site, config, reporter=memory, cache_dir=None if mode == "all" else cache)
        write_monitor_outputs(run, folder.parent / f"out-{mode}", reporter=memory)
        stages = dict(run.timings_s)
        if "write_s" in run.cache:
            stages["Caching the cleaned cube (Zarr, background thread)"] = run.cache["write_s"]
        out = {"stages": stages, "peaks": memory.peaks, "scenes": len(run.cube), "events": len(run.events)}
        out.update(files=len(files), cube_bytes=int(run.cube.data.size * 4))
    out["seconds"] = time.perf_counter() - started
    out["peak_rss_bytes"] = peak_rss_bytes()
    return out


def run_worker(mode: str, folder: Path, site_file: Path, cache: Path) -> dict:
    command = [sys.executable, __file__, "--worker", mode, str(folder), str(site_file), str(cache)]
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def print_table(looks: int, runs: dict[str, dict]) -> None:
    cold, warm, read = runs["cold"], runs["warm"], runs["read"]
    cube = cold["cube_bytes"]
    gib = 2**30
    print(
        f"\n{looks} looks ({cold['files']} files, {cold['scenes']} kept), cube {cube / gib:.2f} GiB, "
        f"{cold['events']} events"
    )
    columns = [name for name in ("cold", "warm", "all") if name in runs]
    header = "".join(f"{name + ' s':>9s}{name + ' GiB':>10s}" for name in columns)
    print(f"{'stage (peak RSS at its end)':58s}{header}")
    stages = dict.fromkeys(stage for name in columns for stage in runs[name]["stages"])
    for stage in stages:
        cells = ""
        for name in columns:
            seconds = runs[name]["stages"].get(stage)
            peak = runs[name]["peaks"].get(stage)
            cells += f"{seconds:9.2f}" if seconds is not None else f"{'':9s}"
            cells += f"{peak / gib:10.2f}" if peak is not None else f"{'':10s}"
        print(f"{stage[:58]:58s}{cells}")
    print(f"{'plain windowed read of every file, one thread (reference)':58s}{read['seconds']:9.2f}")
    print(f"{'the same read on every core':58s}{runs['read-threads']['seconds']:9.2f}")
    whole = "".join(f"{runs[name]['seconds']:9.2f}{runs[name]['peak_rss_bytes'] / gib:10.2f}" for name in columns)
    print(f"{'whole job and report (process, imports included)':58s}{whole}")
    print(
        f"cold / read {cold['seconds'] / read['seconds']:.2f}x (target 1.5x); warm {warm['seconds']:.1f} s "
        f"(target 3 s); peak RSS cold {cold['peak_rss_bytes'] / cube:.2f}x the cube, warm "
        f"{warm['peak_rss_bytes'] / cube:.2f}x (target 2x); read alone {read['peak_rss_bytes'] / gib:.2f} GiB"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--looks", type=int, nargs="+", default=[100])
    parser.add_argument("--data", type=Path, default=Path("../shared/data/oscd"))
    parser.add_argument("--all-stages", action="store_true", help="also a cold run with --normalise and composites")
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
            modes = ["read", "read-threads", "cold", "warm"] + (["all"] if args.all_stages else [])
            runs = {mode: run_worker(mode, root / "scenes", site_file, cache) for mode in modes}
        print_table(looks, runs)


if __name__ == "__main__":
    main()
