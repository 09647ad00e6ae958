"""`sitewatch monitor`: every usable image of a site over a period, dated changes, a report."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from sitewatch.cli.app import app
from sitewatch.cli.console import StageProgress, console, stdout
from sitewatch.detect.timeseries import BreakConfig
from sitewatch.errors import InputError
from sitewatch.imagery import DEFAULT_MARGIN_M
from sitewatch.imagery.cache import default_cache_dir
from sitewatch.monitor import DEFAULT_MIN_VALID, MonitorConfig, parse_day, run_monitor, write_monitor_outputs
from sitewatch.sites import DEFAULT_MAX_AREA_KM2, read_sites


@app.command()
def monitor(
    site: Annotated[Path, typer.Argument(help="Site file (.geojson, .kml, .kmz, .gpkg).")],
    start: Annotated[str, typer.Option("--from", help="First day, YYYY-MM-DD.")],
    end: Annotated[str, typer.Option("--to", help="Last day, YYYY-MM-DD.")],
    out: Annotated[Path, typer.Option("--out", help="Output folder (created if missing).")],
    source: Annotated[
        list[str] | None,
        typer.Option(
            "--source",
            help="earth-search, planetary-computer, a STAC API URL or a folder of dated GeoTIFFs; "
            "repeat to merge several (default earth-search).",
        ),
    ] = None,
    site_id: Annotated[str | None, typer.Option(help="Which site in the file, when it holds several.")] = None,
    collection: Annotated[
        str | None, typer.Option(help="STAC collection (default sentinel-2-l2a; presets also landsat-c2-l2).")
    ] = None,
    max_cloud: Annotated[float | None, typer.Option(help="Skip STAC scenes above this cloud cover, %.")] = None,
    max_scenes: Annotated[int | None, typer.Option(help="At most this many STAC scenes (least cloudy).")] = None,
    resolution: Annotated[float, typer.Option(help="Grid resolution in metres.")] = 10.0,
    margin: Annotated[float, typer.Option(help="Margin around the site polygon, metres.")] = DEFAULT_MARGIN_M,
    min_valid: Annotated[float, typer.Option(help="Drop scenes with less clear site area (0-1).")] = DEFAULT_MIN_VALID,
    min_area: Annotated[float, typer.Option("--min-area", help="Minimum mapping unit, m².")] = 500.0,
    min_obs: Annotated[int, typer.Option(help="Valid looks needed on each side of a break.")] = 2,
    min_magnitude: Annotated[
        float, typer.Option(help="Smallest break, in robust standard deviations over the image.")
    ] = 3.0,
    cloud_mask: Annotated[
        str,
        typer.Option(help="provider (SCL / QA_PIXEL from the catalogue) or s2cloudless (Sentinel-2 L1C bands)."),
    ] = "provider",
    coregister: Annotated[
        bool, typer.Option("--coregister/--no-coregister", help="Phase-correlate every scene to the clearest one.")
    ] = True,
    max_shift: Annotated[float, typer.Option(help="Drop scenes shifted more than this, pixels.")] = 1.5,
    normalise: Annotated[
        bool, typer.Option("--normalise/--no-normalise", help="Relative radiometric normalisation (IR-MAD invariants).")
    ] = False,
    composite: Annotated[
        str | None, typer.Option(help="Median composites per 'month' or 'quarter' before dating.")
    ] = None,
    cache: Annotated[
        Path | None, typer.Option(help="Folder of cleaned cubes (Zarr), reused when the inputs are the same.")
    ] = None,
    no_cache: Annotated[bool, typer.Option("--no-cache", help="Neither read nor write the cube cache.")] = False,
    max_area_km2: Annotated[float, typer.Option(help="Refuse site polygons larger than this.")] = DEFAULT_MAX_AREA_KM2,
) -> None:
    """Date the changes at a site from every usable scene between --from and --to."""
    first, last = parse_day(start, "--from"), parse_day(end, "--to")
    if first > last:
        raise InputError(f"--from {first} is after --to {last}")
    if not 0 <= min_valid <= 1:
        raise InputError(f"--min-valid must be between 0 and 1, not {min_valid}")
    if min_obs < 1:
        raise InputError(f"--min-obs must be 1 or more, not {min_obs}")
    if cloud_mask not in ("provider", "s2cloudless"):
        raise InputError(f"--cloud-mask '{cloud_mask}' is not known; use provider or s2cloudless")
    if composite is not None and composite not in ("month", "quarter"):
        raise InputError(f"--composite '{composite}' is not known; use month or quarter")
    if resolution <= 0:
        raise InputError(f"--resolution must be a positive number of metres, not {resolution}")
    site_file = read_sites(site, max_area_km2=max_area_km2)
    chosen = site_file.get(site_id)
    config = MonitorConfig(
        start=first,
        end=last,
        sources=list(source or ["earth-search"]),
        collection=collection,
        max_cloud=max_cloud,
        max_scenes=max_scenes,
        resolution_m=resolution,
        margin_m=margin,
        min_valid=min_valid,
        min_area_m2=min_area,
        cloud_mask=cloud_mask,
        coregister=coregister,
        max_shift_px=max_shift,
        normalise=normalise,
        composite=composite,
        breaks=BreakConfig(min_obs=min_obs, min_magnitude=min_magnitude),
    )
    with StageProgress() as progress:
        cache_dir = None if no_cache else (cache or default_cache_dir())
        run = run_monitor(chosen, config, reporter=progress, cache_dir=cache_dir)
        written = write_monitor_outputs(run, out, reporter=progress)
    results = run.summary()["results"]
    stdout.print(
        f"[bold]{escape(chosen.name)}[/]: {len(run.cube)} usable scenes ({len(run.cube.dropped)} dropped), "
        f"{results['event_count']} dated change regions, {results['changed_area_m2']:,.0f} m² changed"
    )
    for event in run.events[:10]:
        stdout.print(
            f"  {event.id} {event.area_m2:,.0f} m² between {event.before_date[:10]} and {event.after_date[:10]} "
            f"({event.confirmations} confirming looks)"
        )
    for scene in run.cube.dropped:
        console.print(f"[yellow]dropped:[/] {escape(scene.id)}: {escape(scene.notes[-1])}")
    if run.cache.get("hit"):
        stdout.print(f"Cleaned cube read from the cache: {escape(run.cache['path'])}")
    stdout.print(f"Report: [bold]{escape(str(written['report.html']))}[/]")
