"""Training settings, free of torch so the command line can show and compare them without it."""

from __future__ import annotations

from dataclasses import dataclass

from sitewatch.train.data import BAND_SETS


@dataclass(frozen=True)
class TrainConfig:
    band_set: str = "s2"
    widths: tuple[int, ...] = (16, 32, 64, 64)
    steps: int = 3000
    batch: int = 16
    patch: int = 64
    lr: float = 2e-3
    weight_decay: float = 1e-4
    pos_weight: float = 3.0
    gain_jitter: float = 0.03
    joint_gain_jitter: float = 0.0  # per-band gain shared by both dates (absolute radiometry)
    edge_weight: float = 1.0  # loss weight of pixels beside a label edge (outlines are uncertain by ~1 px)
    siamese: bool = False  # one shared encoder per date (FC-Siam-diff family) instead of early fusion
    match_pairs: bool = False  # train (and so detect) on pairs matched by sitewatch.pair_radiometry
    seed: int = 0

    @property
    def bands(self) -> tuple[str, ...]:
        return BAND_SETS[self.band_set]
