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

import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from sitewatch.base.cores import usable_cores
from sitewatch.base.stats import chi2_sf, robust_scale

#: Array elements (looks x bands x pixels) per chunk: about 8 MB of float32, small enough
#: for the passes over one chunk to stay in the processor's cache.
CHUNK_ELEMENTS = 2_000_000


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
    shift_scale: np.ndarray  # float (B, 2): robust centre and spread of the shifts, the unit of `magnitude`


#: Pixels the noise estimate samples (an even stride, so it is repeatable).
NOISE_SAMPLE = 20_000


def observation_noise(series: np.ndarray, bands: Sequence[int] | None = None) -> np.ndarray:
    """Noise sigma_b from consecutive valid observations: 1.4826·MAD(Δ)/√2 per band, on a pixel sample."""
    step = max(1, series.shape[2] // NOISE_SAMPLE)
    picked = range(series.shape[1]) if bands is None else bands
    pixels = slice(None, None, step)
    sample = _copy_bands(
        series,
        picked,
        pixels,
        np.empty((series.shape[0], len(picked), len(range(series.shape[2])[pixels])), dtype=series.dtype),
    )
    valid = np.isfinite(sample).all(axis=1)
    pairs = np.zeros_like(valid)  # a valid look with a valid one before it
    previous = np.empty_like(sample)  # the last valid observation before each look, carried forward
    seen = np.zeros(valid.shape[1], dtype=bool)
    last = np.full(sample.shape[1:], np.nan, dtype=sample.dtype)
    for i in range(sample.shape[0]):  # one pass over the looks, vectorised over pixels
        pairs[i] = valid[i] & seen
        seen |= valid[i]
        previous[i] = last
        np.copyto(last, sample[i], where=valid[i][None])
    if not pairs.any():
        raise ValueError("no pixel has two valid observations: the series is too short or too cloudy")
    noise = np.empty(sample.shape[1], dtype="float64")
    for band in range(sample.shape[1]):
        d = (sample[:, band] - previous[:, band])[pairs]
        _, spread = robust_scale(d.astype("float64"))
        noise[band] = max(spread / np.sqrt(2.0), 1e-6)
    return noise


def _copy_bands(series: np.ndarray, bands: Sequence[int], pixels: slice, out: np.ndarray) -> np.ndarray:
    """`series[:, bands, pixels]` into `out`: a strided copy per band, ~4x faster than a fancy-indexed gather."""
    for position, band in enumerate(bands):
        out[:, position] = series[:, band, pixels]
    return out


class _Workspace:
    """One thread's (T, B, n) buffers, allocated once and reused for every chunk.

    A fresh chunk-sized temporary costs its page faults on every chunk, as much time as
    the arithmetic on it; three reused buffers cost them once.
    """

    def __init__(self, looks: int, bands: int, pixels: int) -> None:
        self.shape = (looks, bands)
        self._flat = [np.empty(looks * bands * pixels, dtype="float32") for _ in range(3)]
        self._finite = np.empty(looks * bands * pixels, dtype=bool)

    def buffers(self, pixels: int) -> tuple[np.ndarray, ...]:
        """Three contiguous (T, B, pixels) float32 arrays and one bool array of the same shape."""
        size = self.shape[0] * self.shape[1] * pixels
        shape = (*self.shape, pixels)
        return (*(flat[:size].reshape(shape) for flat in self._flat), self._finite[:size].reshape(shape))


def _spikes(y: np.ndarray, valid: np.ndarray, sigma: float, forward: np.ndarray, backward: np.ndarray) -> np.ndarray:
    """(T, n) looks of a (T, B, n) chunk in noise units that jump away from both valid neighbours.

    A look is a spike when sqrt(mean_b max(0, Δprev_b·Δnext_b)) ≥ sigma: it differs from the
    observation before *and* the one after, in the same direction (unmasked cloud, shadow).
    A real change differs from the looks before it but not from those after, so it is kept.
    The first and last look have one neighbour and are never dropped. The neighbours come
    from the series filled forward and backward over invalid looks (into the two scratch
    arrays): one pass each way, then whole-chunk arithmetic rather than a loop over dates.
    """
    t = y.shape[0]
    spikes = np.zeros_like(valid)
    if t < 3:
        return spikes
    invalid = ~valid[:, None, :]
    np.copyto(forward, y)  # each look, or the last valid one before it where it is invalid
    for i in range(1, t):
        if not valid[i].all():
            np.copyto(forward[i], forward[i - 1], where=invalid[i])
    np.copyto(backward, y)  # each look, or the first valid one after it
    for i in range(t - 2, -1, -1):
        if not valid[i].all():
            np.copyto(backward[i], backward[i + 1], where=invalid[i])
    middle = y[1:-1]
    product = np.subtract(middle, forward[:-2], out=forward[:-2])  # NaN where a neighbour is missing
    product *= np.subtract(middle, backward[2:], out=backward[2:])
    np.maximum(product, 0, out=product)
    with np.errstate(invalid="ignore"):
        score = np.sqrt(product.mean(axis=1))  # NaN stays NaN: not a spike
        spikes[1:-1] = valid[1:-1] & (score >= sigma)
    return spikes


def _best_split(
    y: np.ndarray, valid: np.ndarray, min_obs: int, diff: np.ndarray, scratch: np.ndarray
) -> tuple[np.ndarray, ...]:
    """Best mean-shift split of each series of a (T, B, n) chunk in noise units, NaN = invalid.

    Works in place on `y` (it becomes the cumulative sums) and on two scratch arrays of its
    shape. Returns the split, its statistic and the shift and mean before it in noise units.
    """
    t, _b, n = y.shape
    np.copyto(y, np.float32(0), where=~valid[:, None, :])
    sums = y  # (T, B, n), summed in place look by look: numpy's cumsum along the first axis is ~10x slower
    for i in range(1, t):
        np.add(sums[i - 1], sums[i], out=sums[i])
    count = np.cumsum(valid, axis=0, dtype=np.int32)  # (T, n) valid observations up to and including t
    total = count[-1]  # (n,)
    n1 = count.astype("float32")
    n2 = total[None, :].astype("float32") - n1
    candidate = valid & (n1 >= min_obs) & (n2 >= min_obs)  # break right after a valid observation
    with np.errstate(invalid="ignore", divide="ignore"):
        inv1, inv2 = 1.0 / n1, 1.0 / n2
        # m2 - m1 = (S_T - S_k)/n2 - S_k/n1 = S_T/n2 - S_k·(1/n1 + 1/n2)
        np.multiply(sums[-1][None], inv2[:, None, :], out=diff)
        diff -= np.multiply(sums, (inv1 + inv2)[:, None, :], out=scratch)
        stat = (n1 * n2 / np.maximum(total, 1)[None, :]) * np.einsum("tbn,tbn->tn", diff, diff)
    stat = np.where(candidate, stat, -np.inf)
    k = np.argmax(stat, axis=0)  # (n,)
    cols = np.arange(n)
    best = stat[k, cols]
    tried = candidate.sum(axis=0)
    shift = diff[k, :, cols].T  # (B, n)
    with np.errstate(invalid="ignore", divide="ignore"):
        before_mean = sums[k, :, cols].T * inv1[k, cols][None, :]
    # first valid observation after k
    after_valid = valid & (np.arange(t)[:, None] > k[None, :])
    first_after = np.where(after_valid.any(axis=0), np.argmax(after_valid, axis=0), -1)
    has = np.isfinite(best)
    return k, first_after, n1[k, cols], n2[k, cols], best, tried, shift, before_mean, has


def detect_breaks(
    series: np.ndarray,
    config: BreakConfig | None = None,
    *,
    bands: Sequence[int] | None = None,
    threads: int | None = None,
    noise: np.ndarray | None = None,
    shift_scale: np.ndarray | None = None,
) -> Breaks:
    """One break per pixel series of a (time, band, pixel) array; NaN = invalid observation.

    `bands` picks the bands to use by index, so a cube's atmospheric bands are skipped
    without copying it. The pixels are dated in chunks small enough to stay in the
    processor's cache, on `threads` threads (default: the usable cores), each with its own
    few chunk-sized buffers: memory stays a few megabytes above the cube's.

    `noise` and `shift_scale` (from an earlier call's `Breaks`) judge a subset of pixels on
    the whole image's terms rather than its own: the further breaks of `detect.phases`.
    """
    config = config or BreakConfig()
    if series.ndim != 3:
        raise ValueError("series must be (time, band, pixel)")
    picked = list(range(series.shape[1])) if bands is None else list(bands)
    t, b, n = series.shape[0], len(picked), series.shape[2]
    noise = observation_noise(series, picked) if noise is None else np.asarray(noise, dtype="float64")
    scale = (1.0 / noise).astype("float32")[None, :, None]
    to_data_units = noise[:, None]
    last_before = np.full(n, -1, dtype=np.int32)
    first_after = np.full(n, -1, dtype=np.int32)
    n_before = np.zeros(n, dtype=np.int32)
    n_after = np.zeros(n, dtype=np.int32)
    stat = np.full(n, np.nan)
    tried = np.zeros(n, dtype=np.int32)
    shift = np.full((b, n), np.nan, dtype="float32")
    before_mean = np.full((b, n), np.nan, dtype="float32")
    step = min(n, max(256, CHUNK_ELEMENTS // max(1, t * b)))
    workspaces = threading.local()

    def date_chunk(start: int) -> None:
        sl = slice(start, min(n, start + step))
        if not hasattr(workspaces, "buffers"):
            workspaces.buffers = _Workspace(t, b, step)
        y, first, second, finite = workspaces.buffers.buffers(sl.stop - sl.start)
        _copy_bands(series, picked, sl, out=y)
        y *= scale  # noise units
        valid = np.isfinite(y, out=finite).all(axis=1)
        if config.spike_sigma > 0:
            valid &= ~_spikes(y, valid, config.spike_sigma, first, second)
        k, fa, n1, n2, best, count, sh, m1, has = _best_split(y, valid, config.min_obs, first, second)
        last_before[sl] = np.where(has, k, -1)
        first_after[sl] = np.where(has, fa, -1)
        n_before[sl] = np.where(has, n1, 0)
        n_after[sl] = np.where(has, n2, 0)
        stat[sl] = np.where(has, best, np.nan)
        tried[sl] = count
        shift[:, sl] = np.where(has[None], sh * to_data_units, np.nan)
        before_mean[:, sl] = np.where(has[None], m1 * to_data_units, np.nan)

    starts = range(0, n, step)
    workers = max(1, min(threads or usable_cores(), len(starts)))
    if workers == 1:
        for start in starts:
            date_chunk(start)
    else:  # numpy's loops release the GIL: chunks are dated side by side
        with ThreadPoolExecutor(max_workers=workers) as pool:
            list(pool.map(date_chunk, starts))
    p_value = np.where(np.isfinite(stat), np.minimum(1.0, tried * chi2_sf(np.nan_to_num(stat), b)), 1.0)
    magnitude = np.full(n, np.nan, dtype="float32")
    ok = np.isfinite(stat)
    if shift_scale is None:
        shift_scale = np.array(
            [robust_scale(shift[band, ok].astype("float64")) if ok.any() else (0.0, 1.0) for band in range(b)]
        )
    if ok.any():
        total = np.zeros(int(ok.sum()))
        for band in range(b):
            centre, spread = shift_scale[band]
            total += np.square((shift[band, ok] - centre) / max(spread, 1e-9))
        magnitude[ok] = np.sqrt(total / b)
    changed = ok & (p_value < config.alpha) & (np.nan_to_num(magnitude) >= config.min_magnitude)
    return Breaks(
        changed, last_before, first_after, n_before, n_after, magnitude, p_value, shift, before_mean, noise, shift_scale
    )


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
