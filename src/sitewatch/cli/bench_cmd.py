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

from sitewatch.base.errors import InputError
from sitewatch.base.vocab import CrossValidation, Method, ThresholdRule
from sitewatch.cli.app import bench_app
from sitewatch.cli.console import StageProgress, stdout

MethodOption = Annotated[
    list[Method] | None, typer.Option("--method", help="Detector(s) to run, repeatable (default: all).")
]
CityOption = Annotated[list[str] | None, typer.Option("--city", help="Only these scenes (repeatable).")]
JsonOption = Annotated[bool, typer.Option("--json", help="Print results as JSON on stdout.")]
ThresholdOption = Annotated[
    ThresholdRule | None, typer.Option("--threshold", help="Override every method's threshold rule.")
]
ThresholdValueOption = Annotated[float | None, typer.Option("--threshold-value", help="Value for --threshold fixed.")]
CvOption = Annotated[
    CrossValidation,
    typer.Option(
        "--cv",
        help="Learned method only: none (shipped model, trained on every OSCD city: in-sample), "
        "fixed (model trained without aguasclaras, beirut, cupertino, paris; scores those four) "
        "or loco (leave-one-city-out, from the fold models in --models-dir).",
    ),
]
ModelsDirOption = Annotated[
    Path | None,
    typer.Option("--models-dir", help="Folder of fold models for --cv (default: ~/.cache/sitewatch/oscd-models)."),
]


def _methods(requested: list[Method] | None) -> list[str]:
    return [str(m) for m in (requested or list(Method))]


def _table(result) -> Table:  # a sitewatch.bench.BenchmarkResult
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
    scenes: Callable[[], Iterable],
    methods: list[str],
    as_json: bool,
    threshold: ThresholdRule | None = None,
    threshold_value: float | None = None,
    fold_model: Callable[[str], Path | None] | None = None,
    cv: CrossValidation = CrossValidation.none,
) -> None:
    if threshold == ThresholdRule.fixed and threshold_value is None:
        raise InputError("--threshold fixed needs --threshold-value")
    from sitewatch.bench import run_benchmark  # lazy: keeps `--help` fast
    from sitewatch.detect import default_config

    results = []
    for method in methods:
        config = default_config(method, threshold=threshold, threshold_value=threshold_value)
        with StageProgress() as progress:
            progress(f"{dataset}: {method}" + (f" (cv {cv})" if method == "learned" else ""))
            per_scene = None
            if method == "learned" and fold_model is not None:

                def per_scene(name: str, config=config) -> object:
                    path = fold_model(name)
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
        Path,
        typer.Argument(
            help="OSCD root (holding the '... - Images' and '... - Train Labels' folders).", metavar="OSCD_DIR"
        ),
    ],
    method: MethodOption = None,
    city: CityOption = None,
    as_json: JsonOption = False,
    threshold: ThresholdOption = None,
    threshold_value: ThresholdValueOption = None,
    cv: CvOption = CrossValidation.none,
    models_dir: ModelsDirOption = None,
) -> None:
    """OSCD (Sentinel-2, 14 labelled cities): per-city and pooled precision, recall, F1, IoU, kappa."""
    from sitewatch.bench.datasets import oscd_cities, oscd_scenes  # lazy: keeps `--help` fast
    from sitewatch.bench.folds import default_models_dir, fold_cities, fold_model

    folder = models_dir or default_models_dir()

    def model_for(name: str) -> Path | None:
        return fold_model(str(cv), name, folder)

    def scenes() -> Iterable:
        chosen = list(city) if city else None
        if cv != CrossValidation.none and Method.learned in (method or []):
            chosen = fold_cities(str(cv), chosen or oscd_cities(data_dir))
        return oscd_scenes(data_dir, chosen)

    _run("OSCD", data_dir, scenes, _methods(method), as_json, threshold, threshold_value, model_for, cv)


@bench_app.command("landsat")
def landsat(
    data_dir: Annotated[Path, typer.Argument(help="Folder holding Taizhou/ and Nanjing/.", metavar="LANDSAT_DIR")],
    method: MethodOption = None,
    city: CityOption = None,
    as_json: JsonOption = False,
    threshold: ThresholdOption = None,
    threshold_value: ThresholdValueOption = None,
) -> None:
    """Taizhou and Nanjing Landsat pairs, scored on labelled pixels only."""
    from sitewatch.bench.datasets import landsat_scenes  # lazy: keeps `--help` fast

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
