"""Change from spectral-index differences (NDVI, NDBI, MNDWI).

Each index difference is robustly standardised (median/MAD over the scene) and the score is
the root mean square over the indices, in noise units like the CVA score. Indices ignore
overall brightness, so they are blind to some roof changes but steady under haze.
"""

from __future__ import annotations

import numpy as np

from sitewatch.base import indices
from sitewatch.base.errors import InputError
from sitewatch.base.stats import robust_scale


def usable_indices(requested: tuple[str, ...], band_keys: list[str]) -> list[str]:
    """The requested indices whose bands the images have."""
    present = dict.fromkeys(band_keys)
    return [name for name in requested if indices.available(name, present)]


def index_change_score(
    before: np.ndarray, after: np.ndarray, band_keys: list[str], requested: tuple[str, ...]
) -> tuple[np.ndarray, list[str]]:
    """(score, indices used) for two (band, y, x) arrays."""
    names = usable_indices(requested, band_keys)
    if not names:
        raise InputError(
            f"--method index needs red and nir (NDVI), nir and swir16 (NDBI) or green and swir16 (MNDWI); "
            f"the images have {', '.join(band_keys)}: use --method cva, or name the bands with --bands"
        )
    b_lookup = indices.band_lookup(before, band_keys)
    a_lookup = indices.band_lookup(after, band_keys)
    total = np.zeros(before.shape[1:], dtype="float64")
    valid = np.ones(before.shape[1:], dtype=bool)
    used = []
    for name in names:
        delta = indices.compute(name, a_lookup) - indices.compute(name, b_lookup)
        finite = np.isfinite(delta)
        centre, spread = robust_scale(delta[finite]) if finite.any() else (0.0, 0.0)
        if spread <= 0:
            continue
        total += np.where(finite, ((delta - centre) / spread) ** 2, 0.0)
        valid &= finite
        used.append(name)
    if not used:
        raise InputError("the index differences are constant: the two images look identical; check the inputs")
    score = np.sqrt(total / len(used)).astype("float32")
    score[~valid] = np.nan
    return score, used
