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
    """The detectors to score; by default every one (auto is a choice between them, not one)."""
    return [str(m) for m in (requested or [m for m in Method if m != Method.auto])]


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


@bench_app.command("sites")
def sites(
    data_dir: Annotated[
        Path,
        typer.Argument(
            help="OSCD root (holding the '... - Images' and '... - Train Labels' folders).", metavar="OSCD_DIR"
        ),
    ],
    method: Annotated[
        list[Method] | None,
        typer.Option("--method", help="Detector(s), repeatable (default: auto, the default of `detect`, and cva)."),
    ] = None,
    city: CityOption = None,
    per_city: Annotated[
        int, typer.Option("--per-city", help="Sites placed on change, and as many on unchanged land, per city.")
    ] = 12,
    as_json: JsonOption = False,
    cv: Annotated[
        CrossValidation,
        typer.Option(
            "--cv",
            help="Which model the learned detector (and auto, where it picks it) uses: loco (default: each city "
            "judged by the model trained without it), fixed (the four fixed-split cities) or none (in-sample).",
        ),
    ] = CrossValidation.loco,
    models_dir: ModelsDirOption = None,
) -> None:
    """Facility-sized sites on OSCD: site-level precision/recall, area error, per-site vs whole-city agreement."""
    if per_city < 1:
        raise InputError(f"--per-city must be 1 or more, not {per_city}")
    from sitewatch.bench.datasets import oscd_cities, oscd_scenes  # lazy: keeps `--help` fast
    from sitewatch.bench.folds import default_models_dir, fold_cities, fold_model
    from sitewatch.bench.sites import run_sites_benchmark
    from sitewatch.detect import default_config

    folder = models_dir or default_models_dir()
    methods = [str(m) for m in (method or [Method.auto, Method.cva])]
    uses_model = any(m in ("auto", "learned") for m in methods)
    chosen = list(city) if city else oscd_cities(data_dir)
    if uses_model:
        chosen = fold_cities(str(cv), chosen)
        for name in chosen:  # refuse a missing fold model before hours of work, not after
            fold_model(str(cv), name, folder)
    results = []
    for name in methods:
        config = default_config(name)

        def per_city_config(city_name: str, config=config) -> object:
            path = fold_model(str(cv), city_name, folder) if config.method in ("auto", "learned") else None
            return default_config(config.method, model=str(path)) if path else config

        with StageProgress() as progress:
            progress(f"OSCD sites: {name}")
            result = run_sites_benchmark(
                str(data_dir),
                oscd_scenes(data_dir, chosen),
                config,
                per_city=per_city,
                config_for=per_city_config,
                on_site=lambda c, i, n: progress.detail(f"{c}: site {i}/{n}"),
            )
            progress(None)
        results.append(result)
        if not as_json:
            stdout.print(_sites_table(name, result))
            if uses_model and name in ("auto", "learned"):
                stdout.print(f"[dim]{escape(_cv_note(str(cv)))}[/]")
            stdout.print()
    if as_json:
        print(json.dumps({"command": sys.argv, "results": [r.as_dict() for r in results]}, indent=1))


def _sites_table(name: str, result) -> Table:  # a sitewatch.bench.sites.SitesResult
    table = Table(title=f"OSCD sites · {name}", title_justify="left")
    columns = ("city", "sites", "precision", "recall", "F1", "area error median", "p90", "agreement IoU")
    for column in columns:
        table.add_column(column, justify="left" if column == "city" else "right")

    def row(label: str, summary: dict, style: str | None = None) -> None:
        def fmt(value) -> str:
            return "-" if value is None else f"{value:.3f}"

        table.add_row(
            escape(label),
            f"{summary['sites']} ({summary['positives']} changed)",
            fmt(summary["precision"]),
            fmt(summary["recall"]),
            fmt(summary["f1"]),
            fmt(summary["area_error_median"]),
            fmt(summary["area_error_p90"]),
            fmt(summary["agreement_iou_mean"]),
            style=style,
        )

    for city_name, part in result.by_city().items():
        row(city_name, part.summary())
    row("all", result.summary(), style="bold")
    return table
