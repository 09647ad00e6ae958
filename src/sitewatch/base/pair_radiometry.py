"""Put both dates of a pair on one radiometric footing before a learned model compares them.

Two Sentinel-2 L1C scenes of one place differ in haze, sun and processing baseline even
where nothing changed, and a network trained on a few cities may read those differences
as change (OSCD Beihai, whose first date is hazy, gave 60 k false positive pixels).
Matching each band of both dates by an affine map to their shared robust statistics
(median and inter-quartile range over the pixels valid on both dates) removes the
scene-wide part of that difference while keeping real local change. It is symmetric in
time, so swapping the dates gives the same pair swapped.

Opt-in (`sitewatch model fit ... --match-pairs`): on OSCD leave-one-city-out it
nearly halved Beihai's false positives but hurt other cities and left pooled F1 where it
was (see the model card). This module needs numpy only, so the training code (which must
run where GDAL is not installed) and the detector share exactly the same function.
"""

from __future__ import annotations

import numpy as np

#: Name written into a model's metadata when it was trained on matched pairs.
METHOD = "pair-median-iqr"
#: At most this many pixels enter the statistics (an even stride over the image).
SAMPLE_PIXELS = 250_000


def _band_stats(values: np.ndarray, sample: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Median and inter-quartile range per band over the sampled (flat) pixel positions."""
    picked = values.reshape(values.shape[0], -1)[:, sample]
    q25, q50, q75 = np.percentile(picked, [25, 50, 75], axis=1)
    return q50, q75 - q25


def match_pair(before: np.ndarray, after: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Both (band, y, x) DN arrays mapped per band onto their shared median and IQR.

    Pixels that are NaN or not positive on either date are no data: they do not enter the
    statistics and are returned unchanged. A band with no spread keeps its gain. Matched
    values stay at least 1 DN, so they remain valid reflectance for the model's log input.
    """
    if before.shape != after.shape:
        raise ValueError(f"before {before.shape} and after {after.shape} differ in shape")
    before = before.astype("float32", copy=False)
    after = after.astype("float32", copy=False)
    valid = np.all(np.isfinite(before) & (before > 0) & np.isfinite(after) & (after > 0), axis=0)
    sample = np.flatnonzero(valid)
    if sample.size < 100:  # too little to estimate anything: leave the pair as it is
        return before, after
    sample = sample[:: max(1, sample.size // SAMPLE_PIXELS)]
    median_b, iqr_b = _band_stats(before, sample)
    median_a, iqr_a = _band_stats(after, sample)
    target_median = (median_b + median_a) / 2
    target_iqr = np.sqrt(np.maximum(iqr_b, 0) * np.maximum(iqr_a, 0))

    invalid = ~valid

    def mapped(values: np.ndarray, median: np.ndarray, iqr: np.ndarray) -> np.ndarray:
        gain = np.where(iqr > 0, target_iqr / np.where(iqr > 0, iqr, 1), 1.0).astype("float32")
        offset = (target_median - median * gain).astype("float32")
        out = values * gain[:, None, None]  # one pass each, in place: this runs on every detection
        out += offset[:, None, None]
        np.maximum(out, 1.0, out=out)
        np.copyto(out, values, where=invalid)
        return out

    return mapped(before, median_b, iqr_b), mapped(after, median_a, iqr_a)
