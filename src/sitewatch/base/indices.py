"""Spectral indices from bands named by their STAC eo common names.

Used twice: as a change detector (differences of NDVI / NDBI / MNDWI), and to guess what
kind of change an event is (built-up gain, vegetation loss, earthworks, water).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

# index name -> (bands it needs, formula on a band lookup)
INDEX_BANDS: dict[str, tuple[str, ...]] = {
    "ndvi": ("nir", "red"),
    "ndbi": ("swir16", "nir"),
    "mndwi": ("green", "swir16"),
    "bsi": ("swir16", "red", "nir", "blue"),
    "brightness": ("blue", "green", "red"),
}


def _nd(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        out = (a - b) / (a + b)
    return np.where(np.isfinite(out), out, np.nan).astype("float32")


def available(index: str, bands: Mapping[str, np.ndarray]) -> bool:
    return all(name in bands for name in INDEX_BANDS[index])


def compute(index: str, bands: Mapping[str, np.ndarray]) -> np.ndarray:
    """One index from a {common name: array} lookup. KeyError if a band is missing."""
    if index == "ndvi":
        return _nd(bands["nir"], bands["red"])
    if index == "ndbi":
        return _nd(bands["swir16"], bands["nir"])
    if index == "mndwi":
        return _nd(bands["green"], bands["swir16"])
    if index == "bsi":
        return _nd(bands["swir16"] + bands["red"], bands["nir"] + bands["blue"])
    if index == "brightness":
        return ((bands["blue"] + bands["green"] + bands["red"]) / 3).astype("float32")
    raise KeyError(f"unknown index '{index}' (known: {', '.join(INDEX_BANDS)})")


def band_lookup(array: np.ndarray, band_keys: list[str]) -> dict[str, np.ndarray]:
    """{band key: 2-D array} for a (band, ...) array."""
    return {key: array[i] for i, key in enumerate(band_keys)}
