"""`python -m sitewatch.train`: prepare the OSCD training file, train one model or every fold.

    python -m sitewatch.train prepare ../shared/data/oscd --out oscd-train.npz
    python -m sitewatch.train fit oscd-train.npz --exclude beirut --out loco-beirut.onnx
    python -m sitewatch.train plan oscd-train.npz --out models/ --jobs 2
    python -m sitewatch.train ensemble oscd-train.npz --members models/ v2/ --out ens/ --int8
    python -m sitewatch.train narrow oscd-train.npz old/all.onnx --out ens7/
    python -m sitewatch.train prune old/all.onnx --out pruned/

`plan` trains everything the benchmark and the package use: one leave-one-city-out
model per city, the fixed-split model (trained without aguasclaras, beirut, cupertino,
paris) and the model trained on all cities; with `--band-set s2` (10 bands) also the
RGB+NIR variants `rgbn-fixed` and `rgbn-all`. The default recipe is member R1 of the
shipped ensemble (see MODEL_CARD.md).
Models already in --out with the same training settings are kept, so an interrupted
run resumes; stopping `plan` (Ctrl-C, SIGTERM) stops its worker processes too.
`ensemble` averages the same-named models of several `plan` folders (other recipes)
into one ONNX file each (`sitewatch.train.ensemble`); the shipped models are such
ensembles (see MODEL_CARD.md). `narrow` rewrites int8 files built before 2026-11-28,
evening, with 7-bit weights: their 8-bit ones saturate on CPUs without VNNI. `prune`
rewrites files built before 2026-12-04 without what their features-only members compute
from zeros (`sitewatch.train.prune`), to the same output, faster.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import shutil
import sys
import time
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

from sitewatch.train.config import (
    ENCODER_FILES,
    TRAIN_PROG,
    TrainConfig,
    as_recorded,
    command_line,
    recorded_settings,
)
from sitewatch.train.data import BAND_SETS, FIXED_TEST_CITIES, TrainingData, prepare_oscd


def _fail(message: str) -> None:
    print(f"error: {message}", file=sys.stderr)
    raise SystemExit(2)


def config_from_args(args: argparse.Namespace, band_set: str | None = None) -> TrainConfig:
    """The training settings the options ask for, checked first (one line and exit 2 for a bad combination)."""
    if args.edge_weight < 0:
        _fail(f"--edge-weight {args.edge_weight}: a loss weight must be 0 or more (1: edges count like any pixel)")
    if args.pretrained != "none" and ((band_set or args.band_set) != "rgbn" or args.siamese):
        _fail(f"--pretrained {args.pretrained}: needs --band-set rgbn and early fusion (no --siamese)")
    if args.features_only and args.pretrained == "none":
        _fail("--features-only: needs --pretrained csmask-b4 (the features are all such a network reads)")
    if args.encoder_lr_scale < 0 or (args.encoder_lr_scale > 0 and args.pretrained == "none"):
        _fail(
            f"--encoder-lr-scale {args.encoder_lr_scale}: a fraction of the learning rate (0: frozen, 0.1: "
            "fine-tuned as the model card's FTm, 0.3 as its FT3am), for a --pretrained encoder"
        )
    return TrainConfig(
        band_set=band_set or args.band_set,
        widths=tuple(args.widths),
        steps=args.steps,
        batch=args.batch,
        patch=args.patch,
        seed=args.seed,
        joint_gain_jitter=args.joint_gain_jitter,
        edge_weight=args.edge_weight,
        match_pairs=args.match_pairs,
        siamese=args.siamese,
        pretrained=args.pretrained,
        features_only=args.features_only,
        encoder_lr_scale=args.encoder_lr_scale,
    )


def _require_torch(config: TrainConfig | None = None) -> None:
    """Training needs the optional [train] extra; say so instead of a ModuleNotFoundError."""
    if importlib.util.find_spec("torch") is None:
        _fail("training needs PyTorch, which is not installed: run `pip install -e '.[train]'` (CPU torch==2.13.0)")
    if config is not None and config.pretrained != "none":
        from sitewatch.train.pretrained import PretrainedUnavailable, require_packages

        try:
            require_packages()
        except PretrainedUnavailable as exc:
            _fail(str(exc))


def _load(path: str) -> TrainingData:
    if not Path(path).is_file():
        _fail(f"{path}: no such training file; make it with `python -m sitewatch.train prepare OSCD_DIR --out {path}`")
    try:
        return TrainingData.load(path)
    except (OSError, ValueError, KeyError) as exc:  # not an .npz, or one without our arrays
        _fail(f"{path}: not a training file ({type(exc).__name__}); remake it with `python -m sitewatch.train prepare`")


def _trained_with(path: Path, config: TrainConfig, cities: list[str]) -> bool:
    """True when `path` exists and was trained with exactly these settings and cities.

    Settings a model's metadata lacks (it predates them) count as the first recipe's
    (`FIRST_RECIPE`: what training did before the option existed), so adding an option or
    changing a default does not make every model already trained look out of date or,
    worse, up to date.
    """
    if not path.is_file():
        return False
    import onnx

    meta = {p.key: p.value for p in onnx.load(str(path), load_external_data=False).metadata_props}
    stored = recorded_settings(meta.get("train_config", "{}"))
    return stored == as_recorded(config) and meta.get("train_cities") == json.dumps(cities)


def cmd_prepare(args: argparse.Namespace) -> None:
    from sitewatch.errors import InputError

    try:
        data = prepare_oscd(args.oscd_dir)
    except InputError as exc:
        _fail(str(exc))
    data.save(args.out)
    print(f"{args.out}: {len(data.cities)} cities, bands {', '.join(data.bands)}")


def cmd_fit(args: argparse.Namespace) -> None:
    data = _load(args.data)
    exclude = set(args.exclude or [])
    if args.split == "fixed":
        exclude |= set(FIXED_TEST_CITIES)
    unknown = sorted(exclude - set(data.cities))
    if unknown:
        _fail(f"--exclude {', '.join(unknown)}: not a city of {args.data} (have {', '.join(data.cities)})")
    cities = [c for c in data.cities if c not in exclude]
    config = config_from_args(args)  # checks the options before torch is imported
    _require_torch(config)
    from sitewatch.train.jobs import run_tasks

    run_tasks(args.data, [(Path(args.out).stem, cities, config, args.out, args.device)], 1)


def cmd_plan(args: argparse.Namespace) -> None:
    data = _load(args.data)
    main, rgbn = config_from_args(args, args.band_set), config_from_args(args, "rgbn")
    _require_torch(main)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    all_cities = list(data.cities)
    wanted = [(f"loco-{c}", [x for x in all_cities if x != c], main) for c in all_cities]
    fixed_train = [c for c in all_cities if c not in FIXED_TEST_CITIES]
    wanted += [("fixed", fixed_train, main), ("all", all_cities, main)]
    if args.band_set != "rgbn":  # otherwise fixed and all are the RGB+NIR models, copied below
        wanted += [("rgbn-fixed", fixed_train, rgbn), ("rgbn-all", all_cities, rgbn)]
    tasks = []
    for name, cities, config in wanted:
        path = out / f"{name}.onnx"
        if _trained_with(path, config, cities):
            print(f"{name}: up to date", flush=True)
        else:
            tasks.append((name, cities, config, str(path), args.device))
    from sitewatch.train.jobs import run_tasks

    start = time.perf_counter()
    try:
        run_tasks(args.data, tasks, args.jobs)
    except BrokenProcessPool:
        _fail(
            f"a training worker process died (often the out-of-memory killer: try fewer than --jobs {args.jobs}); "
            f"the models finished in {out} are kept and the same command resumes"
        )
    if args.band_set == "rgbn":
        for name in ("fixed", "all"):
            shutil.copyfile(out / f"{name}.onnx", out / f"rgbn-{name}.onnx")
    print(f"trained {len(tasks)} models in {time.perf_counter() - start:.0f} s", flush=True)


def cmd_ensemble(args: argparse.Namespace) -> None:
    from sitewatch.errors import InputError
    from sitewatch.train.ensemble import build_ensemble

    folders = [Path(f) for f in args.members]
    for folder in folders:
        if not folder.is_dir():
            _fail(f"--members {folder}: no such folder; give folders made by `python -m sitewatch.train plan`")
    names = set.intersection(*({p.name for p in f.glob("*.onnx")} for f in folders))
    if not names:
        _fail(f"no model file name is in every one of {', '.join(map(str, folders))}; nothing to average")
    data = _load(args.data)
    start = time.perf_counter()
    for name in sorted(names):
        try:
            build_ensemble(
                [f / name for f in folders], data, Path(args.out) / name, args.command_line, args.int8, log=print
            )
        except InputError as exc:
            _fail(str(exc))
    print(f"averaged {len(names)} models in {time.perf_counter() - start:.0f} s", flush=True)


def cmd_narrow(args: argparse.Namespace) -> None:
    from sitewatch.errors import InputError
    from sitewatch.train.ensemble import narrow_ensemble

    paths = [Path(f) for f in args.files]
    for path in paths:  # all checked before any is rewritten
        if not path.is_file():
            _fail(f"{path}: no such file; give int8 files made by `python -m sitewatch.train ensemble --int8`")
    data = _load(args.data)
    for path in paths:
        try:
            narrow_ensemble(path, data, Path(args.out) / path.name, args.command_line, log=print)
        except InputError as exc:
            _fail(str(exc))


def cmd_prune(args: argparse.Namespace) -> None:
    from sitewatch.errors import InputError
    from sitewatch.train.prune import prune_file

    paths = [Path(f) for f in args.files]
    for path in paths:  # all checked before any is rewritten
        if not path.is_file():
            _fail(f"{path}: no such file; give ONNX files made by `python -m sitewatch.train ensemble`")
    for path in paths:
        try:
            prune_file(path, Path(args.out) / path.name, args.command_line, log=print)
        except InputError as exc:
            _fail(str(exc))


def build_parser() -> argparse.ArgumentParser:
    """The command line of every subcommand; also what reads a recorded command back (tests/test_folds.py)."""
    parser = argparse.ArgumentParser(prog=TRAIN_PROG, description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("prepare", help="align every labelled OSCD city on its label grid into one file")
    p.add_argument("oscd_dir")
    p.add_argument("--out", required=True)
    p.set_defaults(func=cmd_prepare)
    for name, func, help_text in (
        ("fit", cmd_fit, "train one model"),
        ("plan", cmd_plan, "train every fold model and the shipped models"),
    ):
        p = sub.add_parser(name, help=help_text)
        p.add_argument("data", help="training file from `prepare`")
        p.add_argument("--out", required=True, help="model file (fit) or folder (plan)")
        p.add_argument("--steps", type=int, default=TrainConfig.steps)
        p.add_argument(
            "--widths",
            type=int,
            nargs="+",
            default=list(TrainConfig.widths),
            help="channels per U-Net level (fewer: faster to train and run, less capacity)",
        )
        p.add_argument("--batch", type=int, default=TrainConfig.batch)
        p.add_argument("--patch", type=int, default=TrainConfig.patch)
        p.add_argument("--seed", type=int, default=TrainConfig.seed)
        p.add_argument("--device", default="cpu", help="torch device: cpu or cuda")
        p.add_argument(
            "--match-pairs",
            action="store_true",
            help="match both dates radiometrically first (sitewatch.pair_radiometry; the detector then does too)",
        )
        p.add_argument(
            "--siamese",
            action="store_true",
            help="one shared encoder per date, merged by |difference| and sum (default: early fusion)",
        )
        p.add_argument(
            "--pretrained",
            choices=["none", *ENCODER_FILES],
            default=TrainConfig.pretrained,
            help="add the change of frozen pretrained Sentinel-2 features (ukis-csmask's EfficientNet-b4, "
            "its L1C or L2A model; rgbn only)",
        )
        p.add_argument(
            "--features-only",
            action="store_true",
            help="with --pretrained: the network reads only the pretrained features' change, not the dates",
        )
        p.add_argument(
            "--encoder-lr-scale",
            type=float,
            default=TrainConfig.encoder_lr_scale,
            help="with --pretrained: fine-tune the encoder at this fraction of the learning rate (default 0: frozen)",
        )
        p.add_argument(
            "--joint-gain-jitter",
            type=float,
            default=TrainConfig.joint_gain_jitter,
            help="std of a per-band gain applied to both dates alike (augmentation)",
        )
        p.add_argument(
            "--edge-weight",
            type=float,
            default=TrainConfig.edge_weight,
            help="loss weight of pixels beside a label edge (1: like any other pixel)",
        )
        p.set_defaults(func=func)
        p.add_argument(
            "--band-set",
            choices=sorted(BAND_SETS),
            default=TrainConfig.band_set,
            help="bands the model sees"
            if name == "fit"
            else "bands of the fold, fixed and all models (with rgbn they double as rgbn-fixed and rgbn-all)",
        )
        if name == "fit":
            p.add_argument("--exclude", action="append", help="leave this city out (repeatable)")
            p.add_argument("--split", choices=["fixed"], help="leave out the fixed test cities")
        else:
            p.add_argument("--jobs", type=int, default=1, help="models trained at once (processes)")
    p = sub.add_parser(
        "ensemble",
        help="average the same-named models of several `plan` folders into one ONNX file each",
        description="For every model file name found in all --members folders, write one ONNX file to --out that "
        "averages them, with threshold and minimum region chosen for the average on their training cities.",
    )
    p.add_argument("data", help="training file from `prepare` (the training cities' images)")
    p.add_argument(
        "--members",
        nargs="+",
        required=True,
        help="folders of models made by `plan` (one folder with --int8 just quantises)",
    )
    p.add_argument("--out", required=True, help="folder for the averaged models")
    p.add_argument(
        "--int8",
        action="store_true",
        help="quantise weights and activations to int8 (calibrated on the training cities): faster on CPU",
    )
    p.set_defaults(func=cmd_ensemble)
    p = sub.add_parser(
        "narrow",
        help="rewrite int8 files built before 2026-11-28 with 7-bit weights (right on CPUs without VNNI)",
        description="Requantise each int8 file's weights to 7 bits, so that CPUs without VNNI (AVX2 only) do not "
        "saturate, and choose its threshold and minimum region again on its training cities.",
    )
    p.add_argument("data", help="training file from `prepare` (the training cities' images)")
    p.add_argument("files", nargs="+", help="int8 ONNX files made by `ensemble --int8`")
    p.add_argument("--out", required=True, help="folder for the rewritten files (same names)")
    p.set_defaults(func=cmd_narrow)
    p = sub.add_parser(
        "prune",
        help="rewrite ensembles built before 2026-12-04 without what features-only members compute from zeros",
        description="Drop the first U-Net level of features-only members (it convolves zeros) and the weights "
        "that read it; the output stays the same to 1e-6 (checked), so threshold and minimum region stay.",
    )
    p.add_argument("files", nargs="+", help="ONNX files made by `ensemble`")
    p.add_argument("--out", required=True, help="folder for the rewritten files (same names)")
    p.set_defaults(func=cmd_prune)
    return parser


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    args.command_line = command_line(sys.argv[1:] if argv is None else argv)
    args.func(args)


if __name__ == "__main__":
    main()
