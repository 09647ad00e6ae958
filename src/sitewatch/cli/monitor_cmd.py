"""`sitewatch monitor`: every usable image of a site over a period, dated changes, a report."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from sitewatch.base.defaults import DEFAULT_MARGIN_M, DEFAULT_MAX_AREA_KM2, DEFAULT_MIN_AREA_M2, DEFAULT_MIN_VALID
from sitewatch.base.errors import InputError
from sitewatch.base.vocab import CloudMask, Composite
from sitewatch.cli.app import app
from sitewatch.cli.console import StageProgress, console, stdout
from sitewatch.cli.options import (
    MarginOption,
    MaxAreaOption,
    MaxMemoryOption,
    OutOption,
    OverwriteOption,
    SiteFileArgument,
    SiteIdOption,
    gib_to_bytes,
    not_in_future,
    not_negative,
    parse_day,
    positive,
)

CacheOption = Annotated[
    Path | None,
    typer.Option(
        "--cache",
        help="Folder of cleaned cubes, reused when the inputs are the same (default: ~/.cache/sitewatch/cubes).",
    ),
]
NoCacheOption = Annotated[bool, typer.Option("--no-cache", help="Neither read nor write the cube cache.")]


def cache_folder(cache: Path | None, no_cache: bool) -> Path | None:
    """The cube cache folder the options ask for (None: no cache)."""
    if no_cache:
        return None
    if cache is not None:
        return cache
    from sitewatch.imagery.cache import default_cache_dir  # lazy: keeps `--help` fast

    return default_cache_dir()


@app.command()
def monitor(
    site_file: SiteFileArgument,
    start: Annotated[str, typer.Option("--from", help="First day, YYYY-MM-DD.", show_default=False)],
    end: Annotated[str, typer.Option("--to", help="Last day, YYYY-MM-DD.", show_default=False)],
    out: OutOption,
    source: Annotated[
        list[str] | None,
        typer.Option(
            "--source",
            help="earth-search, planetary-computer, a STAC API URL or a folder of dated GeoTIFFs; "
            "repeat to merge several (default: earth-search).",
        ),
    ] = None,
    site: SiteIdOption = None,
    collection: Annotated[
        str | None, typer.Option(help="STAC collection (default: sentinel-2-l2a; presets also landsat-c2-l2).")
    ] = None,
    max_cloud: Annotated[float | None, typer.Option(help="Skip STAC scenes above this cloud cover, %.")] = None,
    max_scenes: Annotated[int | None, typer.Option(help="At most this many STAC scenes (the least cloudy).")] = None,
    resolution: Annotated[float, typer.Option(help="Grid resolution, metres.")] = 10.0,
    margin: MarginOption = DEFAULT_MARGIN_M,
    min_valid: Annotated[float, typer.Option(help="Drop scenes with less clear site area, 0-1.")] = DEFAULT_MIN_VALID,
    min_area: Annotated[float, typer.Option("--min-area", help="Minimum mapping unit, m².")] = DEFAULT_MIN_AREA_M2,
    min_obs: Annotated[int, typer.Option(help="Clear looks needed on each side of a break.")] = 2,
    min_magnitude: Annotated[
        float, typer.Option(help="Smallest break, in robust standard deviations over the image.")
    ] = 3.0,
    cloud_mask: Annotated[
        CloudMask,
        typer.Option(
            help="provider: SCL / QA_PIXEL from the catalogue; s2cloudless: from Sentinel-2 L1C bands; "
            "none: use every pixel with data."
        ),
    ] = CloudMask.provider,
    coregister: Annotated[
        bool, typer.Option("--coregister/--no-coregister", help="Phase-correlate every scene to the clearest one.")
    ] = True,
    max_shift: Annotated[float, typer.Option(help="Drop scenes shifted more than this, pixels.")] = 1.5,
    normalise: Annotated[
        bool, typer.Option("--normalise/--no-normalise", help="Relative radiometric normalisation (IR-MAD invariants).")
    ] = False,
    composite: Annotated[Composite | None, typer.Option(help="Median composites per month or quarter.")] = None,
    cache: CacheOption = None,
    no_cache: NoCacheOption = False,
    max_area_km2: MaxAreaOption = DEFAULT_MAX_AREA_KM2,
    bands: Annotated[
        str | None,
        typer.Option(help="Band names of local multiband files without names, in order, e.g. red,green,blue,nir."),
    ] = None,
    overwrite: OverwriteOption = False,
    max_memory: MaxMemoryOption = None,
) -> None:
    """Date the changes at a site from every usable scene between --from and --to."""
    first, last = parse_day(start, "--from"), parse_day(end, "--to")
    not_in_future(last, "--to")
    if first > last:
        raise InputError(f"--from {first} is after --to {last}")
    if not 0 <= min_valid <= 1:
        raise InputError(f"--min-valid must be between 0 and 1, not {min_valid}")
    if min_obs < 1:
        raise InputError(f"--min-obs must be 1 or more, not {min_obs}")
    positive(resolution, "--resolution", " of metres")
    not_negative(margin, "--margin", " metres")
    not_negative(min_area, "--min-area", " square metres")
    not_negative(max_cloud, "--max-cloud", " percent")
    positive(min_magnitude, "--min-magnitude")
    positive(max_shift, "--max-shift", " pixels")
    if max_scenes is not None and max_scenes < 1:
        raise InputError(f"--max-scenes must be 1 or more, not {max_scenes}")
    memory = gib_to_bytes(max_memory)

    # lazy: the imaging stack loads only when a command runs, keeping `--help` fast
    from sitewatch.base.atomic import prepare_output_folder
    from sitewatch.detect.timeseries import BreakConfig
    from sitewatch.jobs.series import OUTPUT_FILES, MonitorConfig, run_monitor, write_monitor_outputs
    from sitewatch.sites import read_sites

    prepare_output_folder(out, list(OUTPUT_FILES), overwrite=overwrite)

    chosen = read_sites(site_file, max_area_km2=max_area_km2).get(site)
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
        bands=[b.strip() for b in bands.split(",")] if bands else None,
        max_memory_gb=None if memory is None else memory / 2**30,
        breaks=BreakConfig(min_obs=min_obs, min_magnitude=min_magnitude),
    )
    with StageProgress() as progress:
        run = run_monitor(chosen, config, reporter=progress, cache_dir=cache_folder(cache, no_cache))
        written = write_monitor_outputs(run, out, reporter=progress)
    results = run.summary()["results"]
    stdout.print(
        f"[bold]{escape(chosen.name)}[/]: {len(run.cube)} usable scenes ({len(run.cube.dropped)} dropped), "
        f"{results['event_count']} dated change regions, {results['changed_area_m2']:,.0f} m² changed"
    )
    for event in run.events[:10]:
        stdout.print(
            f"  {event.id} {event.inside_m2:,.0f} m² inside the site between {event.before_date[:10]} "
            f"and {event.after_date[:10]} ({event.confirmations} confirming looks)"
        )
    for scene in run.cube.dropped:
        console.print(f"[yellow]dropped:[/] {escape(scene.id)}: {escape(scene.notes[-1])}")
    if run.cache.get("hit"):
        stdout.print(f"Cleaned cube read from the cache: {escape(run.cache['path'])}")
    stdout.print(f"Report: [bold]{escape(str(written['report.html']))}[/]")
