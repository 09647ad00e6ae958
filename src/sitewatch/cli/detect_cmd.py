"""`sitewatch detect`: the two-date job from the command line."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from sitewatch.base.defaults import DEFAULT_MARGIN_M, DEFAULT_MAX_AREA_KM2
from sitewatch.base.errors import InputError
from sitewatch.base.vocab import Method, ThresholdRule
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
    positive,
)


def print_run_summary(run, written: dict[str, Path]) -> None:
    """What a two-date run found, its warnings and where its outputs are."""
    summary = run.summary()
    results = summary["results"]
    first, last = run.cube.files
    stdout.print(
        f"[bold]{escape(run.site.name)}[/]: {results['event_count']} change regions, "
        f"{results['changed_area_m2']:,.0f} m² changed between "
        f"{first.time.day or 'unknown date'} and {last.time.day or 'unknown date'}"
    )
    for kind, area in results["changed_area_by_kind_m2"].items():
        stdout.print(f"  {kind}: {area:,.0f} m²")
    choice = summary["detector"]["diagnostics"].get("method_choice")
    if choice:
        stdout.print(f"Detector: {escape(choice)}")
    for warning in summary["detector"].get("warnings", []):
        console.print(f"[yellow]warning:[/] {escape(warning)}")
    for source in run.cube.files:
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
    site_file: SiteFileArgument,
    before: Annotated[
        Path,
        typer.Argument(
            help="Earlier image: a GeoTIFF/COG or a folder of per-band files.", metavar="BEFORE", show_default=False
        ),
    ],
    after: Annotated[
        Path, typer.Argument(help="Later image, same forms as BEFORE.", metavar="AFTER", show_default=False)
    ],
    out: OutOption,
    site: SiteIdOption = None,
    method: Annotated[
        Method,
        typer.Option(
            help="Detector. auto: learned where the images have blue, green, red and NIR as reflectance "
            "x 10,000, else cva; the report says which ran and why."
        ),
    ] = Method.auto,
    threshold: Annotated[
        ThresholdRule | None,
        typer.Option(help="Threshold rule (default: knee for cva, fixed for index and learned, ki for irmad)."),
    ] = None,
    threshold_value: Annotated[
        float | None,
        typer.Option(help="Cut of --threshold fixed, or the knee's ceiling, in score units (default 3; learned: 0-1)."),
    ] = None,
    min_area: Annotated[
        float | None, typer.Option("--min-area", help="Minimum mapping unit, m² (default 500; learned: the model's).")
    ] = None,
    smooth: Annotated[int | None, typer.Option(help="Score smoothing window, pixels (default 3; 1 = off).")] = None,
    resolution: Annotated[float | None, typer.Option(help="Grid resolution, metres (default: finest native).")] = None,
    margin: MarginOption = DEFAULT_MARGIN_M,
    before_date: Annotated[
        str | None, typer.Option(help="Acquisition date of BEFORE (ISO 8601) when its files lack it.")
    ] = None,
    after_date: Annotated[
        str | None, typer.Option(help="Acquisition date of AFTER (ISO 8601) when its files lack it.")
    ] = None,
    bands: Annotated[
        str | None, typer.Option(help="Band names of multiband files, in order, e.g. red,green,blue,nir.")
    ] = None,
    max_area_km2: MaxAreaOption = DEFAULT_MAX_AREA_KM2,
    overwrite: OverwriteOption = False,
    max_memory: MaxMemoryOption = None,
    model: Annotated[
        Path | None, typer.Option(help="--method learned: an ONNX change model (default: the shipped one).")
    ] = None,
) -> None:
    """Detect change at a site between two images; write change map, events and report."""
    if threshold == ThresholdRule.fixed and threshold_value is None:
        raise InputError("--threshold fixed needs --threshold-value (in score units, e.g. 3.0)")
    if method == Method.learned and threshold not in (None, ThresholdRule.fixed):
        raise InputError("--method learned gives a probability: use --threshold fixed with a value in 0-1, or none")
    if model is not None and method not in (Method.learned, Method.auto):
        raise InputError("--model is for --method learned (or auto)")
    not_negative(min_area, "--min-area", " square metres")
    positive(resolution, "--resolution", " of metres")
    not_negative(margin, "--margin", " metres")
    if smooth is not None and smooth < 1:
        raise InputError(f"--smooth must be a window of 1 pixel or more, not {smooth}")
    if threshold_value is not None and not math.isfinite(threshold_value):
        raise InputError(f"--threshold-value must be a finite number, not {threshold_value}")
    if method == Method.auto and (threshold is not None or threshold_value is not None):
        raise InputError(
            "--threshold and --threshold-value mean sigmas for cva and a probability for learned: "
            "name the detector with --method"
        )
    memory = gib_to_bytes(max_memory)

    # lazy: the imaging stack loads only when a command runs, keeping `--help` fast
    from sitewatch.base.atomic import prepare_output_folder
    from sitewatch.detect import default_config
    from sitewatch.imagery.dates import parse_time
    from sitewatch.jobs.two_date import OUTPUT_FILES, run_two_date, write_outputs
    from sitewatch.sites import read_sites

    days = {o: parse_time(v, o) for o, v in (("--before-date", before_date), ("--after-date", after_date)) if v}
    for option, when in days.items():
        not_in_future(str(when)[:10], option)
    if len(days) == 2 and days["--before-date"] >= days["--after-date"]:
        raise InputError(f"--before-date {before_date} is not before --after-date {after_date}; swap them")
    if model is not None:  # a missing or foreign model file is refused before any imagery is read
        from sitewatch.detect.learned import load_model

        load_model(model)
    prepare_output_folder(out, list(OUTPUT_FILES.values()), overwrite=overwrite)

    site_file_read = read_sites(site_file, max_area_km2=max_area_km2)
    chosen = site_file_read.get(site)
    for repair in site_file_read.repairs:
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
            site_repairs=site_file_read.repairs,
            reporter=progress,
            on_iteration=lambda i, n, delta: progress.detail(f"iteration {i}/{n}, Δρ {delta:.1e}"),
            max_memory_bytes=memory,
        )
        written = write_outputs(run, out, reporter=progress)
    print_run_summary(run, written)
