"""One entry point for every two-date detector: score, threshold, clean-up.

A detector is a score function; everything after the score (smoothing, thresholding,
morphology, minimum mapping unit) is shared, configured by one `DetectorConfig` that is
written into every output so each figure can be reproduced.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from typing import Any

import numpy as np
import xarray as xr

from sitewatch.detect.bitemporal import IterationCallback, cva_score, irmad
from sitewatch.detect.cleanup import clean_mask, nan_mean_filter
from sitewatch.detect.index_change import index_change_score
from sitewatch.detect.threshold import choose_threshold
from sitewatch.imagery.bands import ATMOSPHERIC

METHODS = ("cva", "irmad", "index")

#: Per-method defaults: the threshold rule that suits each score (see docs of each).
METHOD_DEFAULTS: dict[str, dict[str, Any]] = {
    "cva": {"threshold": "fixed", "threshold_value": 3.0},
    "irmad": {"threshold": "ki", "threshold_value": None},
    "index": {"threshold": "fixed", "threshold_value": 3.0},
}


@dataclass(frozen=True)
class DetectorConfig:
    """Every parameter that decides a change mask."""

    method: str = "cva"
    threshold: str = "fixed"  # otsu | ki | fixed
    threshold_value: float | None = 3.0  # used when threshold == "fixed"
    smooth: int = 3  # mean filter window on the score, pixels (1 = off)
    min_area_m2: float = 500.0  # minimum mapping unit
    opening_radius: int = 0
    closing_radius: int = 0
    exclude_atmospheric: bool = True  # leave out coastal/water-vapour/cirrus/thermal bands
    max_iter: int = 100  # IR-MAD
    tol: float = 1e-6  # IR-MAD convergence of canonical correlations
    indices: tuple[str, ...] = ("ndvi", "ndbi", "mndwi")  # index method

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["indices"] = list(self.indices)
        return out


def default_config(method: str = "cva", **overrides: Any) -> DetectorConfig:
    """The default configuration of `method`, with `overrides` (None values ignored)."""
    if method not in METHODS:
        raise ValueError(f"unknown method '{method}' (use one of {', '.join(METHODS)})")
    config = replace(DetectorConfig(method=method), **METHOD_DEFAULTS[method])
    config = replace(config, **{k: v for k, v in overrides.items() if v is not None})
    if config.threshold != "fixed":  # a value only means something for a fixed threshold
        config = replace(config, threshold_value=None)
    return config


@dataclass
class ChangeResult:
    """A change score map, its mask and everything needed to redo it."""

    score: xr.DataArray  # (y, x) float32, NaN = no data
    mask: xr.DataArray  # (y, x) bool
    threshold: float
    config: DetectorConfig
    bands: list[str]
    diagnostics: dict[str, Any] = field(default_factory=dict)

    @property
    def method(self) -> str:
        return self.config.method

    def changed_pixels(self) -> int:
        return int(self.mask.values.sum())


def detection_bands(band_keys: list[str], exclude_atmospheric: bool) -> list[str]:
    """Bands a detector uses: atmospheric ones are left out when others remain."""
    if not exclude_atmospheric:
        return list(band_keys)
    ground = [b for b in band_keys if b not in ATMOSPHERIC]
    return ground if len(ground) >= 2 else list(band_keys)


def detect(
    before: xr.DataArray,
    after: xr.DataArray,
    config: DetectorConfig,
    pixel_area_m2: float,
    *,
    callback: IterationCallback | None = None,
) -> ChangeResult:
    """Run one detector on two aligned (band, y, x) images."""
    keys = [str(b) for b in before.band.values]
    used = detection_bands(keys, config.exclude_atmospheric)
    b = before.sel(band=used).values.astype("float32")
    a = after.sel(band=used).values.astype("float32")
    diagnostics: dict[str, Any] = {}
    if config.method == "cva":
        score = cva_score(b, a)
    elif config.method == "irmad":
        result = irmad(b, a, max_iter=config.max_iter, tol=config.tol, callback=callback)
        score = result.score
        diagnostics = {
            "iterations": result.iterations,
            "converged": result.converged,
            "canonical_correlations": [round(float(r), 6) for r in result.canonical_correlations],
        }
    elif config.method == "index":
        score, names = index_change_score(b, a, used, config.indices)
        diagnostics = {"indices_used": names}
    else:
        raise ValueError(f"unknown method '{config.method}' (use one of {', '.join(METHODS)})")
    score = nan_mean_filter(score, config.smooth)
    threshold = choose_threshold(score, config.threshold, config.threshold_value)
    mask = np.nan_to_num(score, nan=-np.inf) > threshold
    mask = clean_mask(
        mask,
        pixel_area_m2,
        min_area_m2=config.min_area_m2,
        opening_radius=config.opening_radius,
        closing_radius=config.closing_radius,
    )
    coords = {k: v for k, v in before.coords.items() if k != "band"}
    return ChangeResult(
        score=xr.DataArray(score, dims=("y", "x"), coords=coords, name="change_score"),
        mask=xr.DataArray(mask, dims=("y", "x"), coords=coords, name="change_mask"),
        threshold=float(threshold),
        config=config,
        bands=used,
        diagnostics=diagnostics,
    )
