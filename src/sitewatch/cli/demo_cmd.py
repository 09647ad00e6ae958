"""`sitewatch demo`: the two-date job on a real OSCD city with visible construction.

Without the sample folder, and when Earth Search answers, it monitors a built-in site
instead: the Tesla plant at Grünheide near Berlin, built from bare forest clearing in
early 2020 to a finished factory in 2021, from every Sentinel-2 L2A scene of the period.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from sitewatch.base.errors import InputError
from sitewatch.base.vocab import Method
from sitewatch.cli.app import app
from sitewatch.cli.console import StageProgress, stdout
from sitewatch.cli.detect_cmd import print_run_summary

#: Beirut's port and airport show large, dated construction between 2015 and 2017.
DEMO_CITY = "beirut"
DEFAULT_SAMPLE_DIR = Path("../shared/data/oscd")
#: The online demo site: Tesla Gigafactory Berlin-Brandenburg, Grünheide (approximate outline).
ONLINE_SITE = {
    "type": "Feature",
    "properties": {
        "id": "giga-berlin",
        "name": "Tesla Gigafactory Berlin-Brandenburg, Grünheide (demo)",
        "country": "DE",
        "tags": ["automotive", "construction"],
        "notes": "Forest cleared early 2020; factory halls built 2020-2021.",
    },
    "geometry": {
        "type": "Polygon",
        "coordinates": [[[13.783, 52.389], [13.812, 52.389], [13.812, 52.404], [13.783, 52.404], [13.783, 52.389]]],
    },
}
ONLINE_PERIOD = ("2019-10-01", "2021-12-31")


def earth_search_reachable(timeout: float = 5.0) -> bool:
    import requests  # lazy, as in every command

    from sitewatch.imagery.stac import PRESETS

    try:
        return requests.get(PRESETS["earth-search"].url, timeout=timeout).ok
    except requests.RequestException:
        return False


def run_online_demo(out: Path) -> None:
    """Monitor the built-in site from Earth Search (needs the network)."""
    import json
    import tempfile

    from sitewatch.imagery.cache import default_cache_dir  # lazy, as in every command
    from sitewatch.jobs.series import MonitorConfig, run_monitor, write_monitor_outputs
    from sitewatch.sites import read_sites

    with tempfile.TemporaryDirectory() as tmp:
        site_path = Path(tmp) / "site.geojson"
        site_path.write_text(json.dumps({"type": "FeatureCollection", "features": [ONLINE_SITE]}))
        site = read_sites(site_path).get(None)
    config = MonitorConfig(
        start=ONLINE_PERIOD[0], end=ONLINE_PERIOD[1], sources=["earth-search"], max_cloud=20, max_scenes=40
    )
    stdout.print(f"Demo: no sample folder; monitoring {site.name} from Earth Search, {config.start} to {config.end}")
    with StageProgress() as progress:
        run = run_monitor(site, config, reporter=progress, cache_dir=default_cache_dir())
        written = write_monitor_outputs(run, out, reporter=progress)
    results = run.summary()["results"]
    stdout.print(
        f"{len(run.cube)} scenes, {results['event_count']} dated changes, {results['changed_area_m2']:,.0f} m²"
    )
    stdout.print(f"Report: [bold]{written['report.html']}[/]")


def find_city_folder(sample_dir: Path, city: str) -> Path | None:
    """The OSCD city folder, whether `sample_dir` is the OSCD root, its Images folder or the city."""
    from sitewatch.bench.datasets import OSCD_IMAGES  # lazy, as in every command

    for candidate in (sample_dir / OSCD_IMAGES / city, sample_dir / city, sample_dir):
        if (candidate / "imgs_1").is_dir() and (candidate / "imgs_2").is_dir():
            return candidate
    return None


@app.command()
def demo(
    out: Annotated[Path, typer.Option(help="Output folder.")] = Path("demo-output"),
    city: Annotated[str, typer.Option(help="OSCD city to run.")] = DEMO_CITY,
    method: Annotated[
        Method, typer.Option(help="Detector (auto: learned where the bands allow, else cva).")
    ] = Method.auto,
    series: Annotated[
        Path | None,
        typer.Option(
            help="Instead: write a dated series of the city (GeoTIFFs built from its real pair) and its site "
            "file into this folder, for `monitor` and the watchlist walk-through.",
        ),
    ] = None,
) -> None:
    """Run `sitewatch detect` on a real OSCD city pair (SITEWATCH_SAMPLE_DIR or ../shared/data/oscd)."""
    sample_dir = Path(os.environ.get("SITEWATCH_SAMPLE_DIR", DEFAULT_SAMPLE_DIR))
    folder = find_city_folder(sample_dir, city)
    if series is not None:
        if folder is None:
            raise InputError(f"no sample imagery for '{city}' under {sample_dir}; set SITEWATCH_SAMPLE_DIR")
        from sitewatch.bench.series import write_dated_series  # lazy, as in every command

        site_file, scenes = write_dated_series(folder, series)
        stdout.print(f"Site file: {site_file}")
        stdout.print(f"Scenes: {scenes} ({len(list(scenes.glob('*.tif')))} dated GeoTIFFs)")
        return
    if folder is None and earth_search_reachable():
        run_online_demo(out)
        return
    if folder is None:
        raise InputError(
            f"no sample imagery for '{city}' under {sample_dir}; set SITEWATCH_SAMPLE_DIR to an "
            "OSCD download (the folder holding 'Onera Satellite Change Detection dataset - Images'); "
            "Earth Search, the online fallback, is not reachable either"
        )
    from sitewatch.detect import default_config  # lazy, as in every command
    from sitewatch.jobs.two_date import run_two_date, write_outputs
    from sitewatch.sites import read_sites

    site_file = read_sites(folder / f"{folder.name}.geojson")
    site = site_file.get(None)
    site.name = f"OSCD {folder.name} (demo)"
    stdout.print(f"Demo: {folder.name} from {folder}")
    with StageProgress() as progress:
        run = run_two_date(folder / "imgs_1", folder / "imgs_2", site, default_config(method), reporter=progress)
        written = write_outputs(run, out, reporter=progress)
    print_run_summary(run, written)
