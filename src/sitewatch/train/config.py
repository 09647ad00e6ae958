"""Training settings, free of torch so the command line can show and compare them without it."""

from __future__ import annotations

import json
import shlex
from dataclasses import asdict, dataclass

from sitewatch.base.errors import InputError
from sitewatch.train.data import BAND_SETS

#: The frozen encoders `--pretrained` can name (`sitewatch.train.pretrained`), each with the
#: ukis-csmask file whose weights it loads; here, free of torch, so the command line offers
#: exactly these.
ENCODER_FILES = {"csmask-b4": "model_4b_l1c.onnx", "csmask-b4-l2a": "model_4b_l2a.onnx"}


@dataclass(frozen=True)
class TrainConfig:
    """One training recipe. The defaults are member R1 of the shipped ensemble (docs/model-card.md),
    the best single network on unseen cities, so `plan` and the benchmark's missing fold
    models train it unless told otherwise."""

    band_set: str = "rgbn"  # 4 bands generalised to unseen cities better than 10
    widths: tuple[int, ...] = (12, 24, 48, 48)
    steps: int = 1500
    batch: int = 16
    patch: int = 64
    lr: float = 2e-3
    weight_decay: float = 1e-4
    pos_weight: float = 3.0
    gain_jitter: float = 0.03
    joint_gain_jitter: float = 0.08  # per-band gain shared by both dates (absolute radiometry)
    edge_weight: float = 1.0  # loss weight of pixels beside a label edge (outlines are uncertain by ~1 px)
    siamese: bool = False  # one shared encoder per date (FC-Siam-diff family) instead of early fusion
    match_pairs: bool = False  # train (and so detect) on pairs matched by sitewatch.base.pair_radiometry
    pretrained: str = "none"  # "csmask-b4" (or "-l2a"): frozen pretrained features' change (sitewatch.train.pretrained)
    features_only: bool = False  # with `pretrained`: the U-Net reads only the features' change, not the dates
    # With `pretrained`: the encoder's learning rate as a fraction of the U-Net's; 0 keeps it
    # frozen. Fine-tuned, its batch norms keep the pretrained statistics and it has no weight decay.
    encoder_lr_scale: float = 0.0
    seed: int = 0

    @property
    def bands(self) -> tuple[str, ...]:
        return BAND_SETS[self.band_set]


#: How every training command begins; each model file records its whole command after it
#: (metadata `command`), words quoted with `shlex.quote` so that `shlex.split` reads them back.
TRAIN_PROG = "sitewatch model"
#: How training commands began before the CLI had a `model` group (files trained then record it).
OLD_TRAIN_PROG = "python -m sitewatch.train"


def command_line(argv: list[str]) -> str:
    """The command that made a model, as recorded in its file: rerunnable in a shell as written."""
    return " ".join([TRAIN_PROG, *map(shlex.quote, argv)])


#: The first recipe (member A of the earliest shipped models). A model's recorded settings
#: predate every option its metadata lacks, and each option was added with the value that
#: kept earlier training unchanged, so a missing setting means this recipe's value, not
#: today's default.
FIRST_RECIPE = TrainConfig(band_set="s2", widths=(16, 32, 64, 64), steps=3000, joint_gain_jitter=0.0)


def as_recorded(config: TrainConfig) -> dict:
    """The settings as a model's metadata holds them (JSON types: lists, not tuples)."""
    return json.loads(json.dumps(asdict(config)))


def recorded_settings(train_config: str) -> dict:
    """A model's recorded `train_config`, with the settings it predates filled in from `FIRST_RECIPE`."""
    return {**as_recorded(FIRST_RECIPE), **json.loads(train_config)}


def recorded_words(command: str) -> list[str]:
    """A recorded command's words after its program (`sitewatch model` or the older form)."""
    words = shlex.split(command)
    for prog in (TRAIN_PROG, OLD_TRAIN_PROG):
        head = shlex.split(prog)
        if words[: len(head)] == head:
            return words[len(head) :]
    raise ValueError(f"not a training command: {command!r}")


def checked_config(
    *,
    band_set: str,
    widths: tuple[int, ...],
    steps: int,
    batch: int,
    patch: int,
    seed: int,
    joint_gain_jitter: float,
    edge_weight: float,
    match_pairs: bool,
    siamese: bool,
    pretrained: str,
    features_only: bool,
    encoder_lr_scale: float,
) -> TrainConfig:
    """The training settings the options ask for, checked first (one line for a bad combination)."""
    if edge_weight < 0:
        raise InputError(
            f"--edge-weight {edge_weight}: a loss weight must be 0 or more (1: edges count like any pixel)"
        )
    if pretrained != "none" and (band_set != "rgbn" or siamese):
        raise InputError(f"--pretrained {pretrained}: needs --band-set rgbn and early fusion (no --siamese)")
    if features_only and pretrained == "none":
        raise InputError("--features-only: needs --pretrained csmask-b4 (the features are all such a network reads)")
    if encoder_lr_scale < 0 or (encoder_lr_scale > 0 and pretrained == "none"):
        raise InputError(
            f"--encoder-lr-scale {encoder_lr_scale}: a fraction of the learning rate (0: frozen, 0.1: "
            "fine-tuned as the model card's FTm, 0.3 as its FT3am), for a --pretrained encoder"
        )
    return TrainConfig(
        band_set=band_set,
        widths=tuple(widths),
        steps=steps,
        batch=batch,
        patch=patch,
        seed=seed,
        joint_gain_jitter=joint_gain_jitter,
        edge_weight=edge_weight,
        match_pairs=match_pairs,
        siamese=siamese,
        pretrained=pretrained,
        features_only=features_only,
        encoder_lr_scale=encoder_lr_scale,
    )
