"""Iteratively re-weighted multivariate alteration detection (IR-MAD, Nielsen 2007).

Canonical correlation between two dates gives MAD variates that are invariant to any
linear radiometric difference; pixels are re-weighted by their no-change probability
until the canonical correlations converge. Two stages rest on it: the IR-MAD change
detector (`sitewatch.detect`) and relative radiometric normalisation, which takes the
pixels IR-MAD finds unchanged as invariant (`sitewatch.imagery.normalize`). It lives
here, below both, so neither stage reaches into the other.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy import linalg

from sitewatch.base.errors import InputError
from sitewatch.base.stats import chi2_sf

#: Called after each IR-MAD iteration with (iteration, max_iter, change in correlations).
IterationCallback = Callable[[int, int, float], None]


def valid_pixels(before: np.ndarray, after: np.ndarray) -> np.ndarray:
    """(y, x) mask of pixels with data in every band of both dates."""
    return np.isfinite(before).all(axis=0) & np.isfinite(after).all(axis=0)


@dataclass
class IRMADResult:
    """IR-MAD output: chi-square per pixel and what the iterations did."""

    chi2: np.ndarray  # (y, x), NaN where invalid
    mad: np.ndarray  # (band, y, x) standardised MAD variates
    canonical_correlations: np.ndarray  # ascending
    iterations: int
    converged: bool
    sampled_pixels: int

    @property
    def score(self) -> np.ndarray:
        return np.sqrt(self.chi2).astype("float32")


def _canonical_pairs(cov: np.ndarray, n_bands: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Canonical correlations (ascending) and unit-variance weight vectors a, b."""
    ridge = 1e-10 * np.trace(cov) / (2 * n_bands)  # guards singular covariances only
    sxx = cov[:n_bands, :n_bands] + ridge * np.eye(n_bands)
    syy = cov[n_bands:, n_bands:] + ridge * np.eye(n_bands)
    sxy = cov[:n_bands, n_bands:]
    # Generalised eigenproblem  Sxy Syy^-1 Syx a = rho^2 Sxx a  (eigh sorts ascending).
    rho2, a = linalg.eigh(sxy @ linalg.solve(syy, sxy.T, assume_a="sym"), sxx)
    rho = np.sqrt(np.clip(rho2, 0.0, 1.0))
    b = linalg.solve(syy, sxy.T @ a, assume_a="sym")
    a /= np.sqrt(np.einsum("ij,ij->j", a, sxx @ a))
    b /= np.sqrt(np.maximum(np.einsum("ij,ij->j", b, syy @ b), 1e-300))
    b *= np.where(np.einsum("ij,ij->j", a, sxy @ b) < 0, -1.0, 1.0)  # positively correlated
    return rho, a, b


def irmad(
    before: np.ndarray,
    after: np.ndarray,
    *,
    max_iter: int = 100,
    tol: float = 1e-6,
    max_samples: int = 100_000,
    seed: int = 0,
    callback: IterationCallback | None = None,
) -> IRMADResult:
    """Iteratively re-weighted MAD, to convergence of the canonical correlations.

    The transformation is estimated on at most `max_samples` valid pixels (a fixed-seed
    random sample, so results repeat) and then applied to every pixel.
    """
    valid = valid_pixels(before, after)
    n_bands = before.shape[0]
    n_valid = int(valid.sum())
    if n_valid <= 2 * n_bands:
        raise ValueError("too few pixels with data on both dates for IR-MAD")
    stacked = np.concatenate([before[:, valid], after[:, valid]]).T  # (pixels, 2*bands) float32
    offset = stacked.mean(axis=0, dtype="float64")
    if n_valid > max_samples:
        pick = np.random.default_rng(seed).choice(n_valid, size=max_samples, replace=False)
        sample = stacked[np.sort(pick)].astype("float64") - offset
    else:
        sample = stacked.astype("float64") - offset
    weights = np.ones(len(sample))
    previous: np.ndarray | None = None
    converged = False
    iteration = 0
    for iteration in range(1, max_iter + 1):
        total = weights.sum()
        weighted_mean = (weights @ sample) / total
        cov = ((sample * weights[:, None]).T @ sample) / total - np.outer(weighted_mean, weighted_mean)
        try:
            rho, a, b = _canonical_pairs(cov, n_bands)
        except linalg.LinAlgError:
            # Near-identical dates: the weights gather on a few pixels and the covariance
            # degenerates. Keep the last transformation that could be computed.
            if previous is None:
                raise InputError(
                    "IR-MAD cannot fit these two images: their bands do not vary independently (identical "
                    "images or a constant band); use --method cva"
                ) from None
            iteration -= 1
            break
        mean = weighted_mean
        projection = np.vstack([a, -b])  # MAD = U - V = [x, y] @ [a; -b]
        scale = 1.0 / np.sqrt(np.maximum(2.0 * (1.0 - rho), 1e-12))
        mad = (sample - mean) @ projection * scale
        weights = chi2_sf(np.einsum("ij,ij->i", mad, mad), n_bands)
        if weights.sum() < 1e-9 * len(weights):  # everything looks changed: restart evenly
            weights = np.ones(len(sample))
        delta = float(np.max(np.abs(rho - previous))) if previous is not None else np.inf
        if callback is not None:
            callback(iteration, max_iter, delta)
        if delta < tol:
            converged = True
            break
        previous = rho
    full_mad = (stacked - (offset + mean).astype("float32")) @ (projection * scale).astype("float32")
    chi_map = np.full(valid.shape, np.nan, dtype="float32")
    chi_map[valid] = np.einsum("ij,ij->i", full_mad, full_mad)
    mad_map = np.full((n_bands, *valid.shape), np.nan, dtype="float32")
    mad_map[:, valid] = full_mad.T
    return IRMADResult(chi_map, mad_map, rho, iteration, converged, len(sample))
