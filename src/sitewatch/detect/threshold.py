"""Turning a change score into changed / unchanged: Otsu, Kittler-Illingworth, fixed, or knee.

Otsu and Kittler-Illingworth (minimum-error) pick the threshold from the score histogram of
the image itself; KI models the two classes as Gaussians of *different* variance, which
suits change scores where the unchanged class is narrow and the changed class wide. A fixed
threshold is meaningful for scores in noise units (the CVA score is in robust standard
deviations, so 3.0 means "three sigma").

The knee is CVA's default: the cut where the score histogram's tail leaves its peak (the
triangle method), but never above a ceiling (3 sigma). Three sigma alone holds on
Sentinel-2 and misses change where the noise unit is wide: on the 8-bit Landsat pairs and
on very-high-resolution RGB, where texture and misregistration inflate it, the best cut
lies nearer two sigma. The knee finds it there and changes little elsewhere
(`bench/threshold_rules.py`, docs/experiments.md).
"""

from __future__ import annotations

import numpy as np
from skimage.filters import threshold_otsu, threshold_triangle

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


#: The knee is found on at most this many scores (an even stride, so repeatable).
KNEE_SAMPLE = 500_000
#: The knee's ceiling when none is given, in robust standard deviations.
KNEE_CEILING = 3.0


def knee(score: np.ndarray, ceiling: float = KNEE_CEILING) -> float:
    """The triangle-method cut of the valid scores' histogram, at most `ceiling`."""
    values = _finite(score)
    values = values[:: max(1, values.size // KNEE_SAMPLE)]
    return min(float(ceiling), float(threshold_triangle(values)))


def choose_threshold(score: np.ndarray, method: str, value: float | None = None) -> float:
    """The threshold for `score` by `method` ('otsu', 'ki', 'fixed' with `value`, 'knee' below `value`)."""
    if method == "otsu":
        return otsu(score)
    if method == "ki":
        return kittler_illingworth(score)
    if method == "knee":
        return knee(score, KNEE_CEILING if value is None else value)
    if method == "fixed":
        if value is None:
            raise ValueError("a fixed threshold needs a value")
        return float(value)
    raise ValueError(f"unknown threshold method '{method}' (use one of {', '.join(METHODS)})")
