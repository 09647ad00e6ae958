"""`sitewatch bench oscd|landsat DIR`: accuracy on labelled real imagery."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from sitewatch.bench import BenchmarkResult, Scene, landsat_scenes, oscd_scenes, run_benchmark
from sitewatch.cli.app import bench_app
from sitewatch.cli.console import StageProgress, stdout
from sitewatch.detect import METHODS, default_config
from sitewatch.detect.threshold import METHODS as THRESHOLDS
from sitewatch.errors import InputError

MethodOption = Annotated[
    list[str] | None,
    typer.Option("--method", help=f"Detector(s) to run, repeatable: {', '.join(METHODS)} (default: all)."),
]
CityOption = Annotated[list[str] | None, typer.Option("--city", help="Only these scenes (repeatable).")]
JsonOption = Annotated[bool, typer.Option("--json", help="Print results as JSON on stdout.")]
ThresholdOption = Annotated[
    str | None, typer.Option("--threshold", help="Override every method's threshold rule: otsu, ki or fixed.")
]
ThresholdValueOption = Annotated[float | None, typer.Option("--threshold-value", help="Value for --threshold fixed.")]


def _methods(requested: list[str] | None) -> list[str]:
    methods = requested or list(METHODS)
    unknown = [m for m in methods if m not in METHODS]
    if unknown:
        raise InputError(f"--method {', '.join(unknown)} is not known; use {', '.join(METHODS)}")
    return methods


def _table(result: BenchmarkResult) -> Table:
    table = Table(title=f"{result.dataset} · {result.config.method}", title_justify="left")
    for column in ("scene", "precision", "recall", "F1", "IoU", "kappa", "TP", "FP", "FN", "s"):
        table.add_column(column, justify="left" if column == "scene" else "right")

    def row(name: str, counts, seconds: str, style: str | None = None) -> None:
        table.add_row(
            escape(name),
            f"{counts.precision:.3f}",
            f"{counts.recall:.3f}",
            f"{counts.f1:.3f}",
            f"{counts.iou:.3f}",
            f"{counts.kappa:.3f}",
            f"{counts.tp:,}",
            f"{counts.fp:,}",
            f"{counts.fn:,}",
            seconds,
            style=style,
        )

    for name, counts in result.scenes.items():
        row(name, counts, f"{result.seconds[name]:.1f}")
    row("pooled", result.pooled, f"{sum(result.seconds.values()):.1f}", style="bold")
    return table


def _run(
    dataset: str,
    data_dir: Path,
    scenes: Callable[[], Iterable[Scene]],
    methods: list[str],
    as_json: bool,
    threshold: str | None = None,
    threshold_value: float | None = None,
) -> None:
    if threshold is not None and threshold not in THRESHOLDS:
        raise InputError(f"--threshold '{threshold}' is not known; use one of {', '.join(THRESHOLDS)}")
    if threshold == "fixed" and threshold_value is None:
        raise InputError("--threshold fixed needs --threshold-value")
    results = []
    for method in methods:
        config = default_config(method, threshold=threshold, threshold_value=threshold_value)
        with StageProgress() as progress:
            progress(f"{dataset}: {method}")
            result = run_benchmark(
                dataset, str(data_dir), scenes(), config, on_scene=lambda name, _c: progress.detail(f"{name} done")
            )
            progress(None)
        results.append(result)
        if not as_json:
            stdout.print(_table(result))
            params = json.dumps(config.as_dict())
            stdout.print(f"[dim]one parameter set for every scene: {escape(params)}[/]\n")
    if as_json:
        doc = {"command": sys.argv, "results": [r.as_dict() for r in results]}
        print(json.dumps(doc, indent=1))


@bench_app.command("oscd")
def oscd(
    data_dir: Annotated[
        Path, typer.Argument(help="OSCD root (holding the '... - Images' and '... - Train Labels' folders).")
    ],
    method: MethodOption = None,
    city: CityOption = None,
    as_json: JsonOption = False,
    threshold: ThresholdOption = None,
    threshold_value: ThresholdValueOption = None,
) -> None:
    """OSCD (Sentinel-2, 14 labelled cities): per-city and pooled precision, recall, F1, IoU, kappa."""
    cities = list(city) if city else None
    _run("OSCD", data_dir, lambda: oscd_scenes(data_dir, cities), _methods(method), as_json, threshold, threshold_value)


@bench_app.command("landsat")
def landsat(
    data_dir: Annotated[Path, typer.Argument(help="Folder holding Taizhou/ and Nanjing/.")],
    method: MethodOption = None,
    city: CityOption = None,
    as_json: JsonOption = False,
    threshold: ThresholdOption = None,
    threshold_value: ThresholdValueOption = None,
) -> None:
    """Taizhou and Nanjing Landsat pairs, scored on labelled pixels only."""
    cities = list(city) if city else None
    _run(
        "Landsat",
        data_dir,
        lambda: landsat_scenes(data_dir, cities),
        _methods(method),
        as_json,
        threshold,
        threshold_value,
    )
