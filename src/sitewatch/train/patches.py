"""Random training patches with augmentation, drawn with numpy (cheap on any machine).

Change is rare (0.3-4 % of OSCD pixels), so half of the patches are centred near a
changed pixel; the rest are uniform, so the network also sees plenty of fields, water and
seasonal change that is *not* construction. Augmentation: the 8 rotations/flips, swapping
the dates (change is symmetric in time), a small per-band gain jitter of each date
(different sun, atmosphere and processing baselines between scenes) and, when asked for,
a per-band gain shared by both dates (other places and sensors have other absolute levels).
Two optional ones aim at what differs between cities and scenes: a random scale (cities
build at other sizes: a window of `size * s` pixels resampled to `size`) and a random
whole-pixel shift of the second date (pairs are registered only to about a pixel, and
a network that never saw misregistration calls every shifted edge a change).
"""

from __future__ import annotations

import numpy as np
from scipy.ndimage import zoom

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
        scale_jitter: float = 0.0,
        shift_jitter: int = 0,
        seed: int = 0,
    ) -> None:
        self.largest_window = int(np.ceil(size * np.exp(scale_jitter))) + 2 * shift_jitter
        self.cities = [c for c in cities if min(c.changed.shape) >= self.largest_window]
        if not self.cities:
            raise ValueError(f"no training city is at least {self.largest_window} pixels on each side")
        self.size = size
        self.scale_jitter = scale_jitter
        self.shift_jitter = shift_jitter
        self.change_share = change_share
        self.gain_jitter = gain_jitter
        self.joint_gain_jitter = joint_gain_jitter
        self.rng = np.random.default_rng(seed)
        weights = np.array([c.pixels for c in self.cities], dtype=float)
        self.weights = weights / weights.sum()
        self.changed_at = [np.flatnonzero(c.changed) for c in self.cities]

    def _origin(self, k: int, p: int) -> tuple[int, int]:
        """Top-left corner of a p-pixel window of city k, at least `shift_jitter` inside it."""
        city, m = self.cities[k], self.shift_jitter
        h, w = city.changed.shape
        changed = self.changed_at[k]
        if changed.size and self.rng.random() < self.change_share:
            y, x = divmod(int(changed[self.rng.integers(changed.size)]), w)
            y += int(self.rng.integers(-p // 4, p // 4 + 1)) - p // 2
            x += int(self.rng.integers(-p // 4, p // 4 + 1)) - p // 2
        else:
            y, x = int(self.rng.integers(m, h - p - m + 1)), int(self.rng.integers(m, w - p - m + 1))
        return min(max(y, m), h - p - m), min(max(x, m), w - p - m)

    def _window(self, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(before, after, label) of one random window of city k, rescaled and shifted if asked."""
        city = self.cities[k]
        c = self.size
        if self.scale_jitter:
            c = int(np.rint(self.size * np.exp(self.rng.uniform(-self.scale_jitter, self.scale_jitter))))
        y, x = self._origin(k, c)
        dy, dx = self.rng.integers(-self.shift_jitter, self.shift_jitter + 1, size=2) if self.shift_jitter else (0, 0)
        b = city.before[:, y : y + c, x : x + c]
        a = city.after[:, y + dy : y + dy + c, x + dx : x + dx + c]
        lab = city.changed[y : y + c, x : x + c]
        if c != self.size:
            f = self.size / c
            b, a = (zoom(v, (1, f, f), order=1, grid_mode=True, mode="nearest") for v in (b, a))
            lab = zoom(lab.astype("float32"), f, order=1, grid_mode=True, mode="nearest") > 0.5
        return b, a, lab

    def batch(self, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(before, after, label): (n, bands, size, size) float32 DN and (n, size, size) float32."""
        p, nb = self.size, self.cities[0].before.shape[0]
        before = np.empty((n, nb, p, p), dtype="float32")
        after = np.empty_like(before)
        label = np.empty((n, p, p), dtype="float32")
        for i in range(n):
            k = int(self.rng.choice(len(self.cities), p=self.weights))
            b, a, lab = self._window(k)
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
