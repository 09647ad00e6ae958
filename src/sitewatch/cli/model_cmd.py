"""`sitewatch model ...`: prepare the OSCD training file, train models, build the shipped files.

    sitewatch model prepare ../shared/data/oscd --out oscd-train.npz
    sitewatch model fit oscd-train.npz --exclude beirut --out loco-beirut.onnx
    sitewatch model plan oscd-train.npz --out models/ --jobs 2
    sitewatch model ensemble oscd-train.npz models/ v2/ --out ens/ --int8
    sitewatch model narrow oscd-train.npz old/all.onnx --out ens7/
    sitewatch model prune old/all.onnx --out pruned/

`fit` and `plan` need PyTorch (the [train] extra) and import it only when they run;
`ensemble`, `narrow` and `prune` need `onnx` only. Every model file records the command
that made it (metadata `command`), so `sitewatch model ...` as written there retrains it.
"""

from __future__ import annotations

import importlib.util
import shutil
import time
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from sitewatch.base.errors import InputError
from sitewatch.base.vocab import FIXED_TEST_CITIES
from sitewatch.cli.app import invoked, model_app
from sitewatch.cli.console import stdout

# The training settings' defaults, restated for the options (a test checks they equal TrainConfig's:
# importing TrainConfig here would load numpy for `sitewatch --help`).
DEFAULT_WIDTHS = [12, 24, 48, 48]


class BandSet(StrEnum):
    rgbn = "rgbn"  # blue, green, red, NIR: the shipped models
    s2 = "s2"  # the ten ground-looking Sentinel-2 bands


class Split(StrEnum):
    fixed = "fixed"  # aguasclaras, beirut, cupertino and paris left out


class Encoder(StrEnum):
    none = "none"
    csmask_b4 = "csmask-b4"  # ukis-csmask's EfficientNet-b4, its L1C model
    csmask_b4_l2a = "csmask-b4-l2a"  # the same, its L2A model


DataArgument = Annotated[
    Path, typer.Argument(help="Training file made by `sitewatch model prepare`.", metavar="DATA", show_default=False)
]
Steps = Annotated[int, typer.Option(help="Optimiser steps.")]
Widths = Annotated[
    list[int] | None,
    typer.Option(
        "--width",
        help="Channels of one U-Net level, repeat per level (default 12 24 48 48; fewer: faster, less capacity).",
    ),
]
Batch = Annotated[int, typer.Option(help="Patches per step.")]
Patch = Annotated[int, typer.Option(help="Patch side, pixels.")]
Seed = Annotated[int, typer.Option(help="Random seed.")]
Device = Annotated[str, typer.Option(help="torch device: cpu or cuda.")]
MatchPairs = Annotated[
    bool,
    typer.Option(
        "--match-pairs",
        help="Match both dates radiometrically first (base.pair_radiometry; the detector then does too).",
    ),
]
Siamese = Annotated[
    bool,
    typer.Option(
        "--siamese", help="One shared encoder per date, merged by |difference| and sum (default: early fusion)."
    ),
]
Pretrained = Annotated[
    Encoder,
    typer.Option(help="Add the change of pretrained Sentinel-2 features (ukis-csmask's EfficientNet-b4; rgbn only)."),
]
FeaturesOnly = Annotated[
    bool, typer.Option("--features-only", help="With --pretrained: read only the features' change, not the dates.")
]
EncoderLrScale = Annotated[
    float,
    typer.Option(help="With --pretrained: fine-tune the encoder at this fraction of the learning rate (0: frozen)."),
]
JointGainJitter = Annotated[float, typer.Option(help="Std of a per-band gain applied to both dates alike.")]
EdgeWeight = Annotated[float, typer.Option(help="Loss weight of pixels beside a label edge (1: like any other).")]
BandSetOption = Annotated[BandSet, typer.Option(help="Bands the model sees.")]


def _require_torch(pretrained: str = "none") -> None:
    """Training needs the optional [train] extra; say so instead of a ModuleNotFoundError."""
    if importlib.util.find_spec("torch") is None:
        raise InputError(
            "training needs PyTorch, which is not installed: run `pip install -e '.[train]'` (CPU torch==2.13.0)"
        )
    if pretrained != "none":
        from sitewatch.train.pretrained import PretrainedUnavailable, require_packages  # lazy: needs torch

        try:
            require_packages()
        except PretrainedUnavailable as exc:
            raise InputError(str(exc)) from exc


def _load(path: Path):  # -> sitewatch.train.data.TrainingData
    from sitewatch.train.data import TrainingData  # lazy: keeps `--help` fast

    if not path.is_file():
        raise InputError(f"{path}: no such training file; make it with `sitewatch model prepare OSCD_DIR --out {path}`")
    try:
        return TrainingData.load(path)
    except (OSError, ValueError, KeyError) as exc:  # not an .npz, or one without our arrays
        raise InputError(
            f"{path}: not a training file ({type(exc).__name__}); remake it with `sitewatch model prepare`"
        ) from exc


def _recorded() -> str:
    """The command as a model file records it: `sitewatch model` and this command's words."""
    from sitewatch.train.config import command_line  # lazy: keeps `--help` fast

    words = list(invoked)
    return command_line(words[1:] if words[:1] == ["model"] else words)


@model_app.command("prepare")
def prepare(
    oscd_dir: Annotated[Path, typer.Argument(help="OSCD root folder.", metavar="OSCD_DIR", show_default=False)],
    out: Annotated[Path, typer.Option(help="Training file to write (.npz).", show_default=False)],
) -> None:
    """Align every labelled OSCD city on its label grid into one training file."""
    from sitewatch.train.data import prepare_oscd  # lazy: keeps `--help` fast

    data = prepare_oscd(oscd_dir)
    data.save(out)
    stdout.print(f"{escape(str(out))}: {len(data.cities)} cities, bands {', '.join(data.bands)}")


@model_app.command("fit")
def fit(
    data: DataArgument,
    out: Annotated[Path, typer.Option(help="Model file to write (.onnx).", show_default=False)],
    exclude: Annotated[list[str] | None, typer.Option("--exclude", help="Leave this city out (repeatable).")] = None,
    split: Annotated[Split | None, typer.Option(help="Leave out the fixed split's test cities.")] = None,
    steps: Steps = 1500,
    widths: Widths = None,
    batch: Batch = 16,
    patch: Patch = 64,
    seed: Seed = 0,
    device: Device = "cpu",
    match_pairs: MatchPairs = False,
    siamese: Siamese = False,
    pretrained: Pretrained = Encoder.none,
    features_only: FeaturesOnly = False,
    encoder_lr_scale: EncoderLrScale = 0.0,
    joint_gain_jitter: JointGainJitter = 0.08,
    edge_weight: EdgeWeight = 1.0,
    band_set: BandSetOption = BandSet.rgbn,
) -> None:
    """Train one model."""
    training = _load(data)
    left_out = set(exclude or []) | (set(FIXED_TEST_CITIES) if split == Split.fixed else set())
    unknown = sorted(left_out - set(training.cities))
    if unknown:
        raise InputError(f"--exclude {', '.join(unknown)}: not a city of {data} (have {', '.join(training.cities)})")
    cities = [c for c in training.cities if c not in left_out]
    config = config_of(locals())  # checked before torch is imported
    _require_torch(str(pretrained))
    from sitewatch.train.jobs import run_tasks

    run_tasks(str(data), [(out.stem, cities, config, str(out), device, _recorded())], 1)


@model_app.command("plan")
def plan(
    data: DataArgument,
    out: Annotated[Path, typer.Option(help="Folder for the models.", show_default=False)],
    jobs: Annotated[int, typer.Option(help="Models trained at once (processes).")] = 1,
    steps: Steps = 1500,
    widths: Widths = None,
    batch: Batch = 16,
    patch: Patch = 64,
    seed: Seed = 0,
    device: Device = "cpu",
    match_pairs: MatchPairs = False,
    siamese: Siamese = False,
    pretrained: Pretrained = Encoder.none,
    features_only: FeaturesOnly = False,
    encoder_lr_scale: EncoderLrScale = 0.0,
    joint_gain_jitter: JointGainJitter = 0.08,
    edge_weight: EdgeWeight = 1.0,
    band_set: BandSetOption = BandSet.rgbn,
) -> None:
    """Train every fold model (leave-one-city-out), the fixed-split model and the all-cities model.

    Models already in --out with the same settings are kept, so an interrupted run resumes.
    """
    from concurrent.futures.process import BrokenProcessPool  # lazy: keeps `--help` fast

    from sitewatch.train import jobs as training_jobs

    training = _load(data)
    main, rgbn = config_of(locals()), config_of({**locals(), "band_set": BandSet.rgbn})
    _require_torch(str(pretrained))
    out.mkdir(parents=True, exist_ok=True)
    all_cities = list(training.cities)
    wanted = [(f"loco-{c}", [x for x in all_cities if x != c], main) for c in all_cities]
    fixed_train = [c for c in all_cities if c not in FIXED_TEST_CITIES]
    wanted += [("fixed", fixed_train, main), ("all", all_cities, main)]
    if band_set != BandSet.rgbn:  # otherwise fixed and all are the RGB+NIR models, copied below
        wanted += [("rgbn-fixed", fixed_train, rgbn), ("rgbn-all", all_cities, rgbn)]
    command = _recorded()
    tasks = []
    for name, cities, config in wanted:
        path = out / f"{name}.onnx"
        if training_jobs.trained_with(path, config, cities):
            stdout.print(f"{name}: up to date")
        else:
            tasks.append((name, cities, config, str(path), device, command))
    start = time.perf_counter()
    try:
        training_jobs.run_tasks(str(data), tasks, jobs)
    except BrokenProcessPool as exc:
        raise InputError(
            f"a training worker process died (often the out-of-memory killer: try fewer than --jobs {jobs}); "
            f"the models finished in {out} are kept and the same command resumes"
        ) from exc
    if band_set == BandSet.rgbn:
        for name in ("fixed", "all"):
            shutil.copyfile(out / f"{name}.onnx", out / f"rgbn-{name}.onnx")
    stdout.print(f"trained {len(tasks)} models in {time.perf_counter() - start:.0f} s")


@model_app.command("ensemble")
def ensemble(
    data: DataArgument,
    members: Annotated[
        list[Path],
        typer.Argument(
            help="Folders of models made by `plan`, one per member (one folder with --int8 just quantises).",
            show_default=False,
        ),
    ],
    out: Annotated[Path, typer.Option(help="Folder for the averaged models.", show_default=False)],
    int8: Annotated[bool, typer.Option("--int8", help="Quantise to int8 (calibrated on the training cities).")] = False,
) -> None:
    """Average the same-named models of several `plan` folders into one ONNX file each."""
    for folder in members:
        if not folder.is_dir():
            raise InputError(f"{folder}: no such folder; give folders made by `sitewatch model plan`")
    names = set.intersection(*({p.name for p in f.glob("*.onnx")} for f in members))
    if not names:
        raise InputError(f"no model file name is in every one of {', '.join(map(str, members))}; nothing to average")
    training = _load(data)
    from sitewatch.modelops.ensemble import build_ensemble  # lazy: needs onnx

    start = time.perf_counter()
    for name in sorted(names):
        build_ensemble([f / name for f in members], training, out / name, _recorded(), int8, log=stdout.print)
    stdout.print(f"averaged {len(names)} models in {time.perf_counter() - start:.0f} s")


@model_app.command("narrow")
def narrow(
    data: DataArgument,
    files: Annotated[
        list[Path],
        typer.Argument(help="int8 ONNX files made by `ensemble --int8`.", metavar="FILES", show_default=False),
    ],
    out: Annotated[Path, typer.Option(help="Folder for the rewritten files (same names).", show_default=False)],
) -> None:
    """Rewrite int8 files quantised with 8-bit weights with 7-bit ones (right on CPUs without VNNI)."""
    for path in files:  # all checked before any is rewritten
        if not path.is_file():
            raise InputError(f"{path}: no such file; give int8 files made by `sitewatch model ensemble --int8`")
    training = _load(data)
    from sitewatch.modelops.ensemble import narrow_ensemble  # lazy: needs onnx

    for path in files:
        narrow_ensemble(path, training, out / path.name, _recorded(), log=stdout.print)


@model_app.command("prune")
def prune(
    files: Annotated[
        list[Path], typer.Argument(help="ONNX files made by `ensemble`.", metavar="FILES", show_default=False)
    ],
    out: Annotated[Path, typer.Option(help="Folder for the rewritten files (same names).", show_default=False)],
) -> None:
    """Rewrite ensembles without what their features-only members compute from zeros (same output)."""
    for path in files:  # all checked before any is rewritten
        if not path.is_file():
            raise InputError(f"{path}: no such file; give ONNX files made by `sitewatch model ensemble`")
    from sitewatch.modelops.prune import prune_file  # lazy: needs onnx

    for path in files:
        prune_file(path, out / path.name, _recorded(), log=stdout.print)


def read_recorded(command: str) -> tuple[str, dict]:
    """(subcommand, its options) of a command a model file records, parsed by today's command line.

    Files record `sitewatch model ...` (or, made before the `model` group existed,
    `python -m sitewatch.train ...`, whose options are the same for `fit`).
    """
    from sitewatch.train.config import recorded_words  # lazy: keeps `--help` fast

    words = recorded_words(command)
    group = typer.main.get_command(model_app)
    sub = group.commands[words[0]]  # type: ignore[attr-defined]
    with sub.make_context(words[0], list(words[1:])) as ctx:
        return words[0], dict(ctx.params)


#: The options of `fit` and `plan` that make up a recipe (TrainConfig's settings).
RECIPE = (
    "band_set",
    "widths",
    "steps",
    "batch",
    "patch",
    "seed",
    "joint_gain_jitter",
    "edge_weight",
    "match_pairs",
    "siamese",
    "pretrained",
    "features_only",
    "encoder_lr_scale",
)


def config_of(options: dict):  # -> TrainConfig
    """The training settings that `fit` or `plan` options ask for, checked, as they would train today."""
    from sitewatch.train.config import checked_config  # lazy: keeps `--help` fast

    recipe = {k: str(v) if isinstance(v, StrEnum) else v for k, v in options.items() if k in RECIPE}
    return checked_config(**{**recipe, "widths": tuple(recipe["widths"] or DEFAULT_WIDTHS)})
