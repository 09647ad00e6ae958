"""Cleaning a change mask: morphology and a minimum mapping unit in square metres.

Analysts think in m² ("nothing smaller than a house"), so the minimum mapping unit is
given in m² and turned into pixels with the grid's pixel area.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import ndimage
from skimage.morphology import disk


def nan_mean_filter(values: np.ndarray, size: int) -> np.ndarray:
    """Mean over a size x size window, ignoring NaN; NaN stays NaN (normalised convolution)."""
    if size <= 1:
        return values
    valid = np.isfinite(values)
    filled = np.where(valid, values, 0.0).astype("float64")
    total = ndimage.uniform_filter(filled, size=size, mode="nearest")
    weight = ndimage.uniform_filter(valid.astype("float64"), size=size, mode="nearest")
    with np.errstate(invalid="ignore", divide="ignore"):
        out = total / weight
    out[~valid] = np.nan
    return out.astype(values.dtype, copy=False)


def min_pixels(min_area_m2: float, pixel_area_m2: float) -> int:
    """Smallest region, in pixels, that reaches `min_area_m2`."""
    if min_area_m2 <= 0:
        return 1
    return max(1, math.ceil(min_area_m2 / pixel_area_m2 - 1e-9))


def remove_small_regions(mask: np.ndarray, min_size_px: int) -> np.ndarray:
    """Drop 8-connected regions smaller than `min_size_px` pixels."""
    if min_size_px <= 1:
        return mask
    labels, count = ndimage.label(mask, structure=np.ones((3, 3), dtype=bool))
    if count == 0:
        return mask
    sizes = np.bincount(labels.ravel())
    keep = sizes >= min_size_px
    keep[0] = False
    return keep[labels]


def clean_mask(
    mask: np.ndarray,
    pixel_area_m2: float,
    *,
    min_area_m2: float = 0.0,
    opening_radius: int = 0,
    closing_radius: int = 0,
) -> np.ndarray:
    """Opening (removes specks), closing (fills gaps), then the minimum mapping unit."""
    out = np.asarray(mask, dtype=bool)
    if opening_radius > 0:
        out = ndimage.binary_opening(out, structure=disk(opening_radius))
    if closing_radius > 0:
        out = ndimage.binary_closing(out, structure=disk(closing_radius))
    return remove_small_regions(out, min_pixels(min_area_m2, pixel_area_m2))
