"""`sitewatch detect`: the two-date job from the command line."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from sitewatch.cli.app import app
from sitewatch.cli.console import StageProgress, console, stdout
from sitewatch.detect import METHOD_DEFAULTS, METHODS, default_config
from sitewatch.detect.threshold import METHODS as THRESHOLDS
from sitewatch.errors import InputError
from sitewatch.imagery import DEFAULT_MARGIN_M
from sitewatch.pipeline import TwoDateRun, run_two_date, write_outputs
from sitewatch.sites import DEFAULT_MAX_AREA_KM2, read_sites


def _choice(value: str | None, allowed: tuple[str, ...], option: str) -> None:
    if value is not None and value not in allowed:
        raise InputError(f"{option} '{value}' is not known; use one of {', '.join(allowed)}")


def _positive(value: float | None, option: str) -> None:
    if value is not None and not value > 0:
        raise InputError(f"{option} must be a positive number, not {value}")


def print_run_summary(run: TwoDateRun, written: dict[str, Path]) -> None:
    summary = run.summary()
    results = summary["results"]
    stdout.print(
        f"[bold]{escape(run.site.name)}[/]: {results['event_count']} change regions, "
        f"{results['changed_area_m2']:,.0f} m² changed between "
        f"{run.pair.sources[0].time.day or 'unknown date'} and {run.pair.sources[1].time.day or 'unknown date'}"
    )
    for kind, area in results["changed_area_by_kind_m2"].items():
        stdout.print(f"  {kind}: {area:,.0f} m²")
    for source in run.pair.sources:
        if source.time.value is None:
            console.print(
                f"[yellow]warning:[/] no acquisition date for {escape(str(source.path))}; "
                "pass --before-date/--after-date"
            )
        for warning in source.warnings:
            console.print(f"[yellow]warning:[/] {escape(str(source.path))}: {escape(warning)}")
    stdout.print(f"Report: [bold]{escape(str(written['report']))}[/]")
    stdout.print(f"Outputs in {escape(str(written['report'].parent))}: " + ", ".join(p.name for p in written.values()))


@app.command()
def detect(
    before: Annotated[Path, typer.Argument(help="Earlier image: a GeoTIFF/COG or a folder of per-band files.")],
    after: Annotated[Path, typer.Argument(help="Later image, same forms as BEFORE.")],
    site: Annotated[Path, typer.Option("--site", help="Site file (.geojson, .kml, .kmz, .gpkg).")],
    out: Annotated[Path, typer.Option("--out", help="Output folder (created if missing).")],
    site_id: Annotated[str | None, typer.Option(help="Which site in the file, when it holds several.")] = None,
    method: Annotated[str, typer.Option(help=f"Detector: {', '.join(METHODS)}.")] = "cva",
    threshold: Annotated[
        str | None,
        typer.Option(
            help="Threshold rule: otsu, ki or fixed. Default per method: "
            + ", ".join(f"{m} {d['threshold']}" for m, d in METHOD_DEFAULTS.items())
        ),
    ] = None,
    threshold_value: Annotated[float | None, typer.Option(help="Value for --threshold fixed (score units).")] = None,
    min_area: Annotated[
        float | None, typer.Option("--min-area", help="Minimum mapping unit, m² (default 500).")
    ] = None,
    smooth: Annotated[int | None, typer.Option(help="Score smoothing window in pixels (default 3; 1 = off).")] = None,
    resolution: Annotated[
        float | None, typer.Option(help="Grid resolution in metres (default: finest native).")
    ] = None,
    margin: Annotated[float, typer.Option(help="Margin around the site polygon, metres.")] = DEFAULT_MARGIN_M,
    before_date: Annotated[
        str | None, typer.Option(help="Acquisition date of BEFORE (ISO 8601) if the files lack it.")
    ] = None,
    after_date: Annotated[
        str | None, typer.Option(help="Acquisition date of AFTER (ISO 8601) if the files lack it.")
    ] = None,
    bands: Annotated[
        str | None, typer.Option(help="Band names of multiband files, in order, e.g. red,green,blue,nir.")
    ] = None,
    max_area_km2: Annotated[float, typer.Option(help="Refuse site polygons larger than this.")] = DEFAULT_MAX_AREA_KM2,
    model: Annotated[
        Path | None,
        typer.Option(help="--method learned: an ONNX change model (default: the shipped one that fits the bands)."),
    ] = None,
) -> None:
    """Detect change at a site between two images; write change map, events and report."""
    _choice(method, METHODS, "--method")
    _choice(threshold, THRESHOLDS, "--threshold")
    if threshold == "fixed" and threshold_value is None:
        raise InputError("--threshold fixed needs --threshold-value (in score units, e.g. 3.0)")
    if method == "learned" and threshold not in (None, "fixed"):
        raise InputError("--method learned gives a probability: use --threshold fixed with a value in 0-1, or none")
    if model is not None and method != "learned":
        raise InputError("--model is for --method learned")
    if min_area is not None and min_area < 0:
        raise InputError(f"--min-area must be zero or more square metres, not {min_area}")
    _positive(resolution, "--resolution")
    if smooth is not None and smooth < 1:
        raise InputError(f"--smooth must be a window of 1 pixel or more, not {smooth}")
    site_file = read_sites(site, max_area_km2=max_area_km2)
    chosen = site_file.get(site_id)
    for repair in site_file.repairs:
        console.print(f"[yellow]note:[/] {escape(repair)}")
    config = default_config(
        method,
        threshold=threshold,
        threshold_value=threshold_value,
        min_area_m2=min_area,
        smooth=smooth,
        model=str(model) if model else None,
    )
    band_names = [b.strip() for b in bands.split(",")] if bands else None
    with StageProgress() as progress:
        run = run_two_date(
            before,
            after,
            chosen,
            config,
            before_time=before_date,
            after_time=after_date,
            band_names=band_names,
            resolution_m=resolution,
            margin_m=margin,
            site_repairs=site_file.repairs,
            reporter=progress,
            on_iteration=lambda i, n, delta: progress.detail(f"iteration {i}/{n}, Δρ {delta:.1e}"),
        )
        written = write_outputs(run, out, reporter=progress)
    print_run_summary(run, written)
