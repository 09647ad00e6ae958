"""Every phase of a change: the best break of each pixel series, then the best break before and after it.

Construction goes through phases (clearing, earthworks, structure, roof) and sites are
extended more than once, so one break per pixel tells only part of the story. This is
binary segmentation on the same statistic as `detect_breaks`: once a pixel's best break
is found, the looks up to its last unchanged observation and the looks from its first
changed one are each searched again for one more break. Each segment needs its own
`min_obs` valid looks on both sides of a break, its own Bonferroni correction over the
candidates it offers, and the same minimum magnitude; noise and magnitude stay in the
whole image's units (the first pass's), so a phase is judged as the main break is.

The main break is exactly `detect_breaks`' single break: the accuracy of the first date
of change is untouched. Only pixels with a main break are searched again (a few percent of
a site, typically), one level deep: at most three breaks per pixel, the earlier phase, the
main break and the later phase.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from sitewatch.detect.timeseries import BreakConfig, Breaks, detect_breaks


@dataclass
class Phases:
    """The main break of every pixel and the further break found before and after it (if any)."""

    main: Breaks
    earlier: Breaks  # over all pixels: changed where a break precedes the main one
    later: Breaks  # over all pixels: changed where a break follows the main one


def _empty_like(breaks: Breaks) -> Breaks:
    n, b = breaks.changed.size, breaks.shift.shape[0]
    return Breaks(
        changed=np.zeros(n, dtype=bool),
        last_before=np.full(n, -1, dtype=np.int32),
        first_after=np.full(n, -1, dtype=np.int32),
        n_before=np.zeros(n, dtype=np.int32),
        n_after=np.zeros(n, dtype=np.int32),
        magnitude=np.full(n, np.nan, dtype="float32"),
        p_value=np.ones(n),
        shift=np.full((b, n), np.nan, dtype="float32"),
        before_mean=np.full((b, n), np.nan, dtype="float32"),
        noise=breaks.noise,
        shift_scale=breaks.shift_scale,
    )


def _segment_breaks(
    series: np.ndarray,
    picked: list[int],
    pixels: np.ndarray,
    keep: np.ndarray,
    main: Breaks,
    config: BreakConfig,
    threads: int | None,
) -> Breaks:
    """The best break of each of `pixels`' series restricted to the looks `keep` (T, m) marks, as full-size Breaks."""
    sub = series[np.ix_(np.arange(series.shape[0]), picked, pixels)]  # (T, B, m): a copy of the few pixels
    sub[~np.broadcast_to(keep[:, None, :], sub.shape)] = np.nan
    found = detect_breaks(sub, config, threads=threads, noise=main.noise, shift_scale=main.shift_scale)
    out = _empty_like(main)
    for name in ("changed", "last_before", "first_after", "n_before", "n_after", "magnitude", "p_value"):
        getattr(out, name)[pixels] = getattr(found, name)
    out.shift[:, pixels] = found.shift
    out.before_mean[:, pixels] = found.before_mean
    return out


def detect_phases(
    series: np.ndarray,
    config: BreakConfig | None = None,
    *,
    bands: Sequence[int] | None = None,
    threads: int | None = None,
) -> Phases:
    """The main break of every pixel series (as `detect_breaks`) and the breaks before and after it."""
    config = config or BreakConfig()
    main = detect_breaks(series, config, bands=bands, threads=threads)
    picked = list(range(series.shape[1])) if bands is None else list(bands)
    pixels = np.flatnonzero(main.changed)
    if pixels.size == 0:
        return Phases(main, _empty_like(main), _empty_like(main))
    looks = np.arange(series.shape[0])[:, None]
    before = looks <= main.last_before[pixels][None, :]  # up to the last look without the main change
    after = looks >= main.first_after[pixels][None, :]  # from the first look with it
    return Phases(
        main,
        _segment_breaks(series, picked, pixels, before, main, config, threads),
        _segment_breaks(series, picked, pixels, after, main, config, threads),
    )
