"""Turning a change score into changed / unchanged: Otsu, Kittler-Illingworth, or fixed.

Otsu and Kittler-Illingworth (minimum-error) pick the threshold from the score histogram of
the image itself; KI models the two classes as Gaussians of *different* variance, which
suits change scores where the unchanged class is narrow and the changed class wide. A fixed
threshold is meaningful for scores in noise units (the CVA score is in robust standard
deviations, so 3.0 means "three sigma").
"""

from __future__ import annotations

import numpy as np
from skimage.filters import threshold_otsu

from sitewatch.base.vocab import ThresholdRule, values

METHODS = values(ThresholdRule)


def _finite(score: np.ndarray) -> np.ndarray:
    values = np.asarray(score, dtype="float64")
    values = values[np.isfinite(values)]
    if values.size == 0:
        raise ValueError("the change score has no valid pixel to threshold")
    return values


def otsu(score: np.ndarray, bins: int = 256) -> float:
    """Otsu's threshold (maximum between-class variance) of the valid scores."""
    return float(threshold_otsu(_finite(score), nbins=bins))


def kittler_illingworth(score: np.ndarray, bins: int = 256) -> float:
    """Kittler & Illingworth (1986) minimum-error threshold, vectorised over all cuts.

    Minimises J(t) = 1 + 2[P1 ln s1 + P2 ln s2] - 2[P1 ln P1 + P2 ln P2] over histogram cuts.
    """
    values = _finite(score)
    hist, edges = np.histogram(values, bins=bins)
    centres = (edges[:-1] + edges[1:]) / 2
    p = hist / hist.sum()
    p1 = np.cumsum(p)[:-1]
    m1 = np.cumsum(p * centres)[:-1]
    s1 = np.cumsum(p * centres**2)[:-1]
    p2 = 1.0 - p1
    total_m, total_s = float((p * centres).sum()), float((p * centres**2).sum())
    with np.errstate(divide="ignore", invalid="ignore"):
        mu1, mu2 = m1 / p1, (total_m - m1) / p2
        var1, var2 = s1 / p1 - mu1**2, (total_s - s1) / p2 - mu2**2
        cost = 1 + p1 * np.log(var1) + p2 * np.log(var2) - 2 * (p1 * np.log(p1) + p2 * np.log(p2))
    ok = (p1 > 1e-9) & (p2 > 1e-9) & (var1 > 0) & (var2 > 0) & np.isfinite(cost)
    if not ok.any():
        return otsu(values, bins)
    cut = int(np.argmin(np.where(ok, cost, np.inf)))
    return float(edges[cut + 1])


def choose_threshold(score: np.ndarray, method: str, value: float | None = None) -> float:
    """The threshold for `score` by `method` ('otsu', 'ki' or 'fixed' with `value`)."""
    if method == "otsu":
        return otsu(score)
    if method == "ki":
        return kittler_illingworth(score)
    if method == "fixed":
        if value is None:
            raise ValueError("a fixed threshold needs a value")
        return float(value)
    raise ValueError(f"unknown threshold method '{method}' (use one of {', '.join(METHODS)})")
