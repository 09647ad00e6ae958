# ruff: noqa: RUF002
"""Dating change: one structural break (a shift of the mean) per pixel series, vectorised.

For a pixel with valid observations y_1..y_n (each a vector of bands) the model is "one
mean up to observation k, another after it". For every candidate k the likelihood-ratio
statistic of a mean shift with known noise is

    S_k = n1·n2/n · Σ_b ((m2_b - m1_b) / σ_b)²   ~  χ²(B) without change,

with m1, m2 the segment means and σ_b the observation noise of band b, estimated once
for the whole cube from differences between consecutive valid observations (robustly,
so that real breaks do not inflate it). The best k is taken; its p-value is corrected for
the number of candidates tried (Bonferroni), and each segment must hold at least
`min_obs` valid observations, so a change must be confirmed by several looks and a
single cloudy look cannot make one.

Significance alone is not enough: with tens of looks, season and illumination shifts are
"significant" everywhere. So, as for the two-date CVA, the size of the shift is also
measured against the whole image: each band's shift is centred and scaled by its robust
spread over all pixels, and the RMS over bands must reach `min_magnitude` (3 = three
robust standard deviations, the CVA default).

Everything is cumulative sums over time, computed for all pixels at once in chunks: no
per-pixel Python loop. The date bracket of a break is the last valid observation before
it and the first valid one after it: the change happened between those two dates.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sitewatch.base.stats import chi2_sf, robust_scale

#: Pixels processed at once: bounds memory to ~T·B·CHUNK floats per array.
CHUNK = 16_384


@dataclass
class BreakConfig:
    min_obs: int = 2  # valid observations required on each side of a break
    alpha: float = 0.01  # family-wise false-alarm rate per pixel (Bonferroni over candidates)
    min_magnitude: float = 3.0  # robust standard deviations of the shift over the image
    spike_sigma: float = 5.0  # a look this far from both valid neighbours, same way, is dropped (0 = off)


@dataclass
class Breaks:
    """Per pixel (flattened y·x): whether it broke, when, by how much, and how sure."""

    changed: np.ndarray  # bool (N,)
    last_before: np.ndarray  # int (N,): time index of the last valid observation before the break, -1 if none
    first_after: np.ndarray  # int (N,): time index of the first valid observation after it, -1 if none
    n_before: np.ndarray  # int (N,): valid observations before
    n_after: np.ndarray  # int (N,): valid observations after (they confirm the change)
    magnitude: np.ndarray  # float (N,): robust RMS shift over bands (NaN: no candidate)
    p_value: np.ndarray  # float (N,): Bonferroni-corrected
    shift: np.ndarray  # float (B, N): m2 - m1 per band
    before_mean: np.ndarray  # float (B, N): m1, the mean before the break (data units)
    noise: np.ndarray  # float (B,): noise sigma_b used


#: Pixels the noise estimate samples (an even stride, so it is repeatable).
NOISE_SAMPLE = 20_000


def observation_noise(series: np.ndarray) -> np.ndarray:
    """Noise sigma_b from consecutive valid observations: 1.4826·MAD(Δ)/√2 per band, on a pixel sample."""
    step = max(1, series.shape[2] // NOISE_SAMPLE)
    sample = series[:, :, ::step]
    valid = np.isfinite(sample).all(axis=1)
    prev, _ = _neighbours(valid)
    pairs = valid & (prev >= 0)
    if not pairs.any():
        raise ValueError("no pixel has two valid observations: the series is too short or too cloudy")
    previous = np.take_along_axis(sample, np.maximum(prev, 0)[:, None, :], axis=0)
    noise = np.empty(sample.shape[1], dtype="float64")
    for band in range(sample.shape[1]):
        d = (sample[:, band] - previous[:, band])[pairs]
        _, spread = robust_scale(d.astype("float64"))
        noise[band] = max(spread / np.sqrt(2.0), 1e-6)
    return noise


def _neighbours(valid: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Time index of the previous and next valid observation of each (T, n) entry (-1: none)."""
    t = valid.shape[0]
    steps = np.arange(t)[:, None]
    last = np.maximum.accumulate(np.where(valid, steps, -1), axis=0)
    prev = np.vstack([np.full((1, valid.shape[1]), -1), last[:-1]])
    first = np.minimum.accumulate(np.where(valid, steps, t)[::-1], axis=0)[::-1]
    nxt = np.vstack([first[1:], np.full((1, valid.shape[1]), t)])
    return prev, np.where(nxt >= t, -1, nxt)


def despike(series: np.ndarray, noise: np.ndarray, sigma: float) -> np.ndarray:
    """Mask looks that jump away from both valid neighbours the same way (unmasked cloud, shadow).

    A look is a spike when sqrt(mean_b max(0, Δprev_b·Δnext_b))/noise_b ≥ sigma: it differs
    from the observation before *and* the one after, in the same direction. A real change
    differs from the looks before it but not from those after, so it is kept. The first
    and last look have one neighbour and are never dropped.
    """
    out = series.copy()
    scale = (1.0 / noise).astype("float32")[:, None]
    for start in range(0, series.shape[2], CHUNK):
        chunk = out[:, :, start : start + CHUNK]
        spikes = _spikes(chunk * scale[None], sigma)
        chunk[np.broadcast_to(spikes[:, None, :], chunk.shape)] = np.nan
    return out


def _spikes(y: np.ndarray, sigma: float) -> np.ndarray:
    """(T, n) spikes of a (T, B, n) chunk in noise units.

    Previous and next valid looks are carried along time: a loop over dates, vectorised
    over pixels, cheaper than gathering with index arrays.
    """
    t = y.shape[0]
    valid = np.isfinite(y).all(axis=1)
    before = np.empty_like(y)
    last = np.full(y.shape[1:], np.nan, dtype=y.dtype)
    for i in range(t):
        before[i] = last
        np.copyto(last, y[i], where=valid[i][None])
    spikes = np.zeros_like(valid)
    following = np.full(y.shape[1:], np.nan, dtype=y.dtype)
    for i in range(t - 1, -1, -1):
        if valid[i].any():
            product = (y[i] - before[i]) * (y[i] - following)  # NaN where a neighbour is missing
            score = np.sqrt(np.maximum(product, 0).mean(axis=0))  # NaN stays NaN: not a spike
            spikes[i] = valid[i] & (score >= sigma)
            np.copyto(following, y[i], where=valid[i][None])
    return spikes


def _best_split(chunk: np.ndarray, noise: np.ndarray, min_obs: int) -> tuple[np.ndarray, ...]:
    """Best mean-shift split of each series in a (T, B, n) chunk."""
    t, _b, n = chunk.shape
    valid = np.isfinite(chunk).all(axis=1)  # (T, n)
    values = np.where(valid[:, None, :], chunk, np.float32(0)) * (1.0 / noise).astype("float32")[None, :, None]
    count = np.cumsum(valid, axis=0, dtype=np.int32)  # (T, n) valid observations up to and including t
    total = count[-1]  # (n,)
    sums = np.cumsum(values, axis=0, dtype=np.float32)  # (T, B, n)
    n1 = count.astype("float32")
    n2 = total[None, :].astype("float32") - n1
    candidate = valid & (n1 >= min_obs) & (n2 >= min_obs)  # break right after a valid observation
    with np.errstate(invalid="ignore", divide="ignore"):
        inv1, inv2 = 1.0 / n1, 1.0 / n2
        # m2 - m1 = (S_T - S_k)/n2 - S_k/n1 = S_T/n2 - S_k·(1/n1 + 1/n2)
        diff = sums[-1][None] * inv2[:, None, :] - sums * (inv1 + inv2)[:, None, :]
        stat = (n1 * n2 / np.maximum(total, 1)[None, :]) * np.einsum("tbn,tbn->tn", diff, diff)
    stat = np.where(candidate, stat, -np.inf)
    k = np.argmax(stat, axis=0)  # (n,)
    cols = np.arange(n)
    best = stat[k, cols]
    tried = candidate.sum(axis=0)
    shift = diff[k, :, cols].T * noise[:, None]  # (B, n) in data units
    with np.errstate(invalid="ignore", divide="ignore"):
        before_mean = (sums[k, :, cols].T * inv1[k, cols][None, :]) * noise[:, None]
    # first valid observation after k
    after_valid = valid & (np.arange(t)[:, None] > k[None, :])
    first_after = np.where(after_valid.any(axis=0), np.argmax(after_valid, axis=0), -1)
    has = np.isfinite(best)
    return k, first_after, n1[k, cols], n2[k, cols], best, tried, shift, before_mean, has


def detect_breaks(series: np.ndarray, config: BreakConfig | None = None) -> Breaks:
    """One break per pixel series of a (time, band, pixel) array; NaN = invalid observation."""
    config = config or BreakConfig()
    if series.ndim != 3:
        raise ValueError("series must be (time, band, pixel)")
    _t, b, n = series.shape
    noise = observation_noise(series)
    if config.spike_sigma > 0:
        series = despike(series, noise, config.spike_sigma)
    last_before = np.full(n, -1, dtype=np.int32)
    first_after = np.full(n, -1, dtype=np.int32)
    n_before = np.zeros(n, dtype=np.int32)
    n_after = np.zeros(n, dtype=np.int32)
    stat = np.full(n, np.nan)
    tried = np.zeros(n, dtype=np.int32)
    shift = np.full((b, n), np.nan, dtype="float32")
    before_mean = np.full((b, n), np.nan, dtype="float32")
    for start in range(0, n, CHUNK):
        sl = slice(start, start + CHUNK)
        k, fa, n1, n2, best, count, sh, m1, has = _best_split(series[:, :, sl], noise, config.min_obs)
        last_before[sl] = np.where(has, k, -1)
        first_after[sl] = np.where(has, fa, -1)
        n_before[sl] = np.where(has, n1, 0)
        n_after[sl] = np.where(has, n2, 0)
        stat[sl] = np.where(has, best, np.nan)
        tried[sl] = count
        shift[:, sl] = np.where(has[None], sh, np.nan)
        before_mean[:, sl] = np.where(has[None], m1, np.nan)
    p_value = np.where(np.isfinite(stat), np.minimum(1.0, tried * chi2_sf(np.nan_to_num(stat), b)), 1.0)
    magnitude = np.full(n, np.nan, dtype="float32")
    ok = np.isfinite(stat)
    if ok.any():
        total = np.zeros(int(ok.sum()))
        for band in range(b):
            centre, spread = robust_scale(shift[band, ok].astype("float64"))
            total += np.square((shift[band, ok] - centre) / max(spread, 1e-9))
        magnitude[ok] = np.sqrt(total / b)
    changed = ok & (p_value < config.alpha) & (np.nan_to_num(magnitude) >= config.min_magnitude)
    return Breaks(changed, last_before, first_after, n_before, n_after, magnitude, p_value, shift, before_mean, noise)


def per_pixel_reference(series: np.ndarray, noise: np.ndarray, min_obs: int = 2) -> tuple[np.ndarray, np.ndarray]:
    """The same best split written the plain way, one pixel at a time (benchmark reference).

    Returns (index of the last observation before the break, statistic) per pixel.
    """
    _t, _b, n = series.shape
    ks = np.full(n, -1)
    stats = np.full(n, np.nan)
    for p in range(n):
        y = series[:, :, p]
        idx = np.flatnonzero(np.isfinite(y).all(axis=1))
        z = y[idx] / noise
        best, best_k = -np.inf, -1
        for j in range(min_obs, len(idx) - min_obs + 1):
            m1, m2 = z[:j].mean(axis=0), z[j:].mean(axis=0)
            s = j * (len(idx) - j) / len(idx) * float(((m2 - m1) ** 2).sum())
            if s > best:
                best, best_k = s, idx[j - 1]
        ks[p], stats[p] = best_k, best if best_k >= 0 else np.nan
    return ks, stats
