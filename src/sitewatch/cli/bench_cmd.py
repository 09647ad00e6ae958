"""`sitewatch bench oscd|landsat DIR`: accuracy on labelled real imagery."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterable
from dataclasses import replace
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from sitewatch.bench import BenchmarkResult, Scene, landsat_scenes, oscd_scenes, run_benchmark
from sitewatch.bench.folds import CV_MODES, default_models_dir, ensure_fold_model, fold_cities
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
CvOption = Annotated[
    str,
    typer.Option(
        "--cv",
        help="Learned method only: none (shipped model, trained on every OSCD city: in-sample), "
        "fixed (model trained without aguasclaras, beirut, cupertino, paris; scores those four) "
        "or loco (leave-one-city-out; missing fold models are trained first).",
    ),
]
ModelsDirOption = Annotated[
    Path | None,
    typer.Option("--models-dir", help="Folder of fold models for --cv (default: the user cache)."),
]


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
    fold_model: Callable[[str, StageProgress], Path | None] | None = None,
    cv: str = "none",
) -> None:
    if threshold is not None and threshold not in THRESHOLDS:
        raise InputError(f"--threshold '{threshold}' is not known; use one of {', '.join(THRESHOLDS)}")
    if threshold == "fixed" and threshold_value is None:
        raise InputError("--threshold fixed needs --threshold-value")
    results = []
    for method in methods:
        config = default_config(method, threshold=threshold, threshold_value=threshold_value)
        with StageProgress() as progress:
            progress(f"{dataset}: {method}" + (f" (cv {cv})" if method == "learned" else ""))
            per_scene = None
            if method == "learned" and fold_model is not None:

                def per_scene(name: str, config=config) -> object:
                    path = fold_model(name, progress)
                    return replace(config, model=str(path)) if path else config

            result = run_benchmark(
                dataset,
                str(data_dir),
                scenes(),
                config,
                on_scene=lambda name, _c: progress.detail(f"{name} done"),
                config_for=per_scene,
            )
            progress(None)
        results.append(result)
        if not as_json:
            stdout.print(_table(result))
            params = json.dumps(config.as_dict())
            stdout.print(f"[dim]one parameter set for every scene: {escape(params)}[/]")
            if method == "learned":
                stdout.print(f"[dim]{escape(_cv_note(cv))}[/]")
            stdout.print()
    if as_json:
        doc = {"command": sys.argv, "results": [r.as_dict() for r in results]}
        print(json.dumps(doc, indent=1))


def _cv_note(cv: str) -> str:
    own = "; threshold and minimum region: each model's own, chosen on its training cities"
    if cv == "loco":
        return "leave-one-city-out: each city scored by a model trained on the other cities only" + own
    if cv == "fixed":
        return "fixed split: trained on 10 cities, scored on aguasclaras, beirut, cupertino, paris" + own
    return "shipped model, trained on all 14 OSCD cities: these figures are in-sample, not a test"


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
    cv: CvOption = "none",
    models_dir: ModelsDirOption = None,
) -> None:
    """OSCD (Sentinel-2, 14 labelled cities): per-city and pooled precision, recall, F1, IoU, kappa."""
    if cv not in CV_MODES:
        raise InputError(f"--cv '{cv}' is not known; use one of {', '.join(CV_MODES)}")
    folder = models_dir or default_models_dir()

    def fold_model(name: str, progress: StageProgress) -> Path | None:
        return ensure_fold_model(cv, name, data_dir, folder, log=progress.detail)

    def scenes() -> Iterable[Scene]:
        chosen = list(city) if city else None
        if cv != "none" and "learned" in (method or []):
            from sitewatch.bench.datasets import oscd_cities

            chosen = fold_cities(cv, chosen or oscd_cities(data_dir))
        return oscd_scenes(data_dir, chosen)

    _run("OSCD", data_dir, scenes, _methods(method), as_json, threshold, threshold_value, fold_model, cv)


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
