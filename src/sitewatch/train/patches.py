"""Random training patches with augmentation, drawn with numpy (cheap on any machine).

Change is rare (0.3-4 % of OSCD pixels), so half of the patches are centred near a
changed pixel; the rest are uniform, so the network also sees plenty of fields, water and
seasonal change that is *not* construction. Augmentation: the 8 rotations/flips, swapping
the dates (change is symmetric in time), a small per-band gain jitter of each date
(different sun, atmosphere and processing baselines between scenes) and, when asked for,
a per-band gain shared by both dates (other places and sensors have other absolute levels).
"""

from __future__ import annotations

import numpy as np

from sitewatch.train.data import City


class PatchSampler:
    """Batches from cities that hold the model's bands only, in its order (`fit.model_inputs`)."""

    def __init__(
        self,
        cities: list[City],
        size: int = 64,
        change_share: float = 0.5,
        gain_jitter: float = 0.03,
        joint_gain_jitter: float = 0.0,
        seed: int = 0,
    ) -> None:
        self.cities = [c for c in cities if min(c.changed.shape) >= size]
        if not self.cities:
            raise ValueError(f"no training city is at least {size} pixels on each side")
        self.size = size
        self.change_share = change_share
        self.gain_jitter = gain_jitter
        self.joint_gain_jitter = joint_gain_jitter
        self.rng = np.random.default_rng(seed)
        weights = np.array([c.pixels for c in self.cities], dtype=float)
        self.weights = weights / weights.sum()
        self.changed_at = [np.flatnonzero(c.changed) for c in self.cities]

    def _origin(self, k: int) -> tuple[int, int]:
        city, p = self.cities[k], self.size
        h, w = city.changed.shape
        changed = self.changed_at[k]
        if changed.size and self.rng.random() < self.change_share:
            y, x = divmod(int(changed[self.rng.integers(changed.size)]), w)
            y += int(self.rng.integers(-p // 4, p // 4 + 1)) - p // 2
            x += int(self.rng.integers(-p // 4, p // 4 + 1)) - p // 2
        else:
            y, x = int(self.rng.integers(0, h - p + 1)), int(self.rng.integers(0, w - p + 1))
        return min(max(y, 0), h - p), min(max(x, 0), w - p)

    def batch(self, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(before, after, label): (n, bands, size, size) float32 DN and (n, size, size) float32."""
        p, nb = self.size, self.cities[0].before.shape[0]
        before = np.empty((n, nb, p, p), dtype="float32")
        after = np.empty_like(before)
        label = np.empty((n, p, p), dtype="float32")
        for i in range(n):
            k = int(self.rng.choice(len(self.cities), p=self.weights))
            city = self.cities[k]
            y, x = self._origin(k)
            window = (slice(y, y + p), slice(x, x + p))
            b = city.before[:, window[0], window[1]]
            a = city.after[:, window[0], window[1]]
            lab = city.changed[window]
            rot, flip = int(self.rng.integers(4)), bool(self.rng.integers(2))
            b, a, lab = (np.rot90(v, rot, axes=(-2, -1)) for v in (b, a, lab))
            if flip:
                b, a, lab = (v[..., ::-1] for v in (b, a, lab))
            if self.rng.random() < 0.5:
                b, a = a, b
            gains = 1.0 + self.gain_jitter * self.rng.standard_normal((2, nb, 1, 1))
            gains *= 1.0 + self.joint_gain_jitter * self.rng.standard_normal((1, nb, 1, 1))
            before[i], after[i], label[i] = b * gains[0], a * gains[1], lab
        return before, after, label
