"""Two-date change scores: change vector analysis (CVA) and IR-MAD (from `sitewatch.base.mad`).

Both take (band, y, x) float arrays of the same grid with NaN for no data and return a
per-pixel score in noise units, so that one threshold rule serves every image:

* CVA: each band's difference is centred and scaled by its median and MAD (robust to the
  few changed pixels, and to gain/offset differences between dates), then the root mean
  square over bands. 3.0 means "three robust standard deviations".
* IR-MAD (Nielsen 2007): canonical correlation between the dates gives MAD variates that
  are invariant to any linear radiometric difference; pixels are re-weighted by their
  no-change probability until the canonical correlations converge. The score is the square
  root of the chi-square statistic of the standardised MAD variates.
"""

from __future__ import annotations

import numpy as np

from sitewatch.base.mad import IRMADResult, IterationCallback, irmad, valid_pixels
from sitewatch.base.stats import robust_scale

__all__ = ["IRMADResult", "IterationCallback", "cva_score", "irmad"]


def cva_score(before: np.ndarray, after: np.ndarray) -> np.ndarray:
    """Robustly standardised change-vector magnitude (RMS over bands, in noise units)."""
    valid = valid_pixels(before, after)
    if not valid.any():
        raise ValueError("no pixel has data on both dates")
    total = np.zeros(int(valid.sum()), dtype="float32")
    used = 0
    for band in range(before.shape[0]):
        diff = after[band][valid] - before[band][valid]
        centre, spread = robust_scale(diff)
        if spread > 0:
            total += np.square((diff - np.float32(centre)) / np.float32(spread))
            used += 1
    if used == 0:
        raise ValueError("no band differs between the dates: the two images are identical")
    score = np.full(valid.shape, np.nan, dtype="float32")
    score[valid] = np.sqrt(total / used)
    return score
