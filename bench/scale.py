"""Watchlists of many sites: in one process, and on Dask with one and two worker processes.

Run:  .venv/bin/python bench/scale.py [--sites 1 10 100] [--modes inprocess local:1 local:2]

Sites are facility-sized boxes (0.05-2 km², seeded) cut from the OSCD cities' image
extents; each city gets a dated series of local GeoTIFFs built from its real pair, with 2
to 6 looks per real date (4 to 12 looks a site), written once. Each run stores into a
fresh SQLite store without a cube cache, so every site is read, cleaned and dated. Prints
per run: sites per minute, p50 / p95 seconds per site (computing it, where it ran), the
peak RSS of the processes that computed sites, the share of time in reading, cleaning,
dating and storing, and the speed-up from one worker to two. Then, from the per-site cost
measured, what 1,000 and 10,000 sites would take on 16 and 64 workers.
"""

from __future__ import annotations

import argparse
import math
import tempfile
import time
from pathlib import Path

import numpy as np
from shapely.geometry import box

from sitewatch.base.geo import metres_per_degree
from sitewatch.bench.datasets import OSCD_IMAGES, oscd_cities
from sitewatch.bench.series import write_dated_series
from sitewatch.sites import Site, read_sites
from sitewatch.store import open_store
from sitewatch.store.repo import add_site

PERIOD = ("2010-01-01", "2024-12-31")
STAGES = {
    "reading": ("Searching the sources", "Loading scenes"),
    "cleaning": ("Dropping unusable scenes", "Co-registering scenes (phase correlation)"),
    "dating": ("Dating breaks", "Turning changed regions into dated events", "Keeping the looks"),
}


def build_series(data: Path, folder: Path) -> list[tuple[Path, Site]]:
    """(scene folder, city extent) for every OSCD city, 2-6 looks per real date."""
    out = []
    for number, city in enumerate(oscd_cities(data)):
        city_folder = data / OSCD_IMAGES / city
        looks = 2 + number % 5
        site_file, scenes = write_dated_series(city_folder, folder / city, looks=looks, seed=number)
        out.append((scenes, read_sites(site_file).get(None)))
    return out


def cut_sites(series: list[tuple[Path, Site]], count: int, seed: int = 0) -> list[tuple[Site, Path]]:
    """`count` facility-sized boxes spread over the cities, each with its city's scenes."""
    rng = np.random.default_rng(seed)
    sites = []
    for n in range(count):
        scenes, city = series[n % len(series)]
        west, south, east, north = city.geometry.bounds
        per_lon, per_lat = metres_per_degree((south + north) / 2)
        side_m = math.sqrt(rng.uniform(0.05, 2.0) * 1e6)
        half_lon, half_lat = side_m / 2 / per_lon, side_m / 2 / per_lat
        margin = 300 / per_lon
        x = rng.uniform(west + half_lon + margin, max(west + half_lon + margin, east - half_lon - margin))
        y = rng.uniform(south + half_lat + margin, max(south + half_lat + margin, north - half_lat - margin))
        site = Site(
            id=f"site-{n:05d}", name=f"Site {n}", geometry=box(x - half_lon, y - half_lat, x + half_lon, y + half_lat)
        )
        sites.append((site, scenes))
    return sites


def run(mode: str, sites: list[tuple[Site, Path]], folder: Path) -> dict:
    from sitewatch.jobs.cluster import run_watchlist_on_cluster
    from sitewatch.jobs.watchlist import run_watchlist

    name = mode.replace(":", "-")
    url = f"sqlite:///{folder / f'{name}-{len(sites)}.db'}"
    store = open_store(url)
    with store.session() as session:
        for site, scenes in sites:
            add_site(session, site).monitor = {"sources": [str(scenes)]}
        session.commit()
        started = time.perf_counter()
        kwargs = {"start": PERIOD[0], "end": PERIOD[1], "cache_dir": None}
        if mode == "inprocess":
            outcome = run_watchlist(session, None, **kwargs)
        else:
            outcome = run_watchlist_on_cluster(session, None, mode, **kwargs)
        wall = time.perf_counter() - started
    works = [s.work for s in outcome.sites if s.work is not None and s.status in ("stored", "duplicate")]
    seconds = np.array([w.seconds for w in works])
    shares = {
        name: sum(w.timings.get(k, 0) for w in works for k in w.timings if k.startswith(names))
        for name, names in STAGES.items()
    }
    shares["storing"] = sum(s.store_seconds for s in outcome.sites)
    total = sum(shares.values()) or 1.0
    return {
        "mode": mode,
        "sites": len(sites),
        "stored": len(works),
        "failed": len(outcome.failed),
        "no_imagery": sum(1 for s in outcome.sites if s.status == "no-new-imagery"),
        "wall": wall,
        "per_minute": len(sites) / wall * 60,
        "p50": float(np.percentile(seconds, 50)) if len(seconds) else float("nan"),
        "p95": float(np.percentile(seconds, 95)) if len(seconds) else float("nan"),
        "mean": float(seconds.mean()) if len(seconds) else float("nan"),
        "peak_gib": max((w.peak_rss_bytes for w in works), default=0) / 2**30,
        "shares": {k: v / total for k, v in shares.items()},
        "store_s": shares["storing"] / max(len(works), 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sites", type=int, nargs="+", default=[1, 10, 100])
    parser.add_argument("--modes", nargs="+", default=["inprocess", "local:1", "local:2"])
    parser.add_argument("--data", type=Path, default=Path("../shared/data/oscd"))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        series = build_series(args.data.resolve(), folder / "series")
        print(f"{len(series)} cities' dated series; sites 0.05-2 km², 4-12 looks each; 2 cores\n")
        print(
            f"{'sites':>6s} {'mode':>10s} {'stored':>6s} {'wall s':>8s} {'sites/min':>9s} {'p50 s':>6s} {'p95 s':>6s} "
            f"{'peak GiB':>8s} {'no new':>6s} {'failed':>6s}  reading / cleaning / dating / storing"
        )
        results = []
        for count in args.sites:
            sites = cut_sites(series, count)
            for mode in args.modes:
                r = run(mode, sites, folder)
                results.append(r)
                shares = " / ".join(f"{r['shares'][k]:.0%}" for k in ("reading", "cleaning", "dating", "storing"))
                print(
                    f"{count:6d} {mode:>10s} {r['stored']:6d} {r['wall']:8.1f} {r['per_minute']:9.1f} {r['p50']:6.2f} "
                    f"{r['p95']:6.2f} {r['peak_gib']:8.2f} {r['no_imagery']:6d} {r['failed']:6d}  {shares}"
                )
            by_mode = {r["mode"]: r for r in results if r["sites"] == count}
            if "local:1" in by_mode and "local:2" in by_mode:
                speedup = by_mode["local:1"]["wall"] / by_mode["local:2"]["wall"]
                print(f"{'':6s} speed-up from 1 to 2 workers: {speedup:.2f}x")
        largest = max(results, key=lambda r: (r["sites"], r["mode"] == "local:2"))
        per_site, store_s = largest["mean"], largest["store_s"]
        print(
            f"\nestimate from {largest['sites']} sites on {largest['mode']}: {per_site:.2f} s to compute a site, "
            f"{store_s:.3f} s to store it (one writer)"
        )
        for sites in (1_000, 10_000):
            for workers in (16, 64):
                compute = sites * per_site / workers
                writer = sites * store_s
                print(
                    f"  {sites:>6,} sites on {workers} workers: {max(compute, writer) / 60:6.1f} min "
                    f"(computing {compute / 60:.1f} min spread over the workers, storing {writer / 60:.1f} min "
                    f"in one writer{'; the writer limits it' if writer > compute else ''})"
                )


if __name__ == "__main__":
    main()
