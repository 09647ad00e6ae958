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

from sitewatch.base.bands import ATMOSPHERIC
from sitewatch.base.vocab import Method, values
from sitewatch.detect.bitemporal import IterationCallback, cva_score, irmad
from sitewatch.detect.choice import choose_method
from sitewatch.detect.cleanup import clean_mask, nan_mean_filter
from sitewatch.detect.index_change import index_change_score
from sitewatch.detect.learned import choose_model, learned_score
from sitewatch.detect.threshold import KNEE_CEILING, choose_threshold

METHODS = values(Method)
#: A detector that flags more than this share of the image is warned about: real change at a
#: site rarely covers half of it, a radiometric or registration mismatch does.
FLAGGED_WARNING = 0.5

#: Per-method defaults: the threshold rule that suits each score (see docs of each).
METHOD_DEFAULTS: dict[str, dict[str, Any]] = {
    "auto": {},  # resolved from the images (detect.choice), then the chosen method's defaults apply
    "cva": {"threshold": "knee", "threshold_value": KNEE_CEILING},
    "irmad": {"threshold": "ki", "threshold_value": None},
    "index": {"threshold": "fixed", "threshold_value": 3.0},
    # The model brings its own probability threshold and minimum region, chosen on its
    # training cities; None here means "the model's", resolved when it runs.
    "learned": {"threshold": "fixed", "threshold_value": None, "smooth": 1, "min_area_m2": None},
}


@dataclass(frozen=True)
class DetectorConfig:
    """Every parameter that decides a change mask."""

    method: str = "cva"
    threshold: str = "fixed"  # otsu | ki | fixed | knee
    threshold_value: float | None = 3.0  # the cut of a fixed threshold, the ceiling of the knee
    smooth: int = 3  # mean filter window on the score, pixels (1 = off)
    min_area_m2: float | None = 500.0  # minimum mapping unit (None: the learned model's own)
    opening_radius: int = 0
    closing_radius: int = 0
    exclude_atmospheric: bool = True  # leave out coastal/water-vapour/cirrus/thermal bands
    max_iter: int = 100  # IR-MAD
    tol: float = 1e-6  # IR-MAD convergence of canonical correlations
    indices: tuple[str, ...] = ("ndvi", "ndbi", "mndwi")  # index method
    model: str | None = None  # learned method: ONNX file (None: the shipped model that fits the bands)
    #: method auto: the options the user gave, applied once the method is chosen
    requested: tuple[tuple[str, Any], ...] = field(default=(), compare=False, repr=False)

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["indices"] = list(self.indices)
        del out["requested"]
        return out


def default_config(method: str = "cva", **overrides: Any) -> DetectorConfig:
    """The default configuration of `method`, with `overrides` (None values ignored)."""
    if method not in METHODS:
        raise ValueError(f"unknown method '{method}' (use one of {', '.join(METHODS)})")
    given = {k: v for k, v in overrides.items() if v is not None}
    if method == "auto":
        scored = sorted(set(given) & {"threshold", "threshold_value"})
        if scored:
            raise ValueError(
                "a threshold means sigmas for cva and a probability for learned: name the method with "
                f"--method when setting {', '.join(scored)}"
            )
        return DetectorConfig(method="auto", model=given.get("model"), requested=tuple(sorted(given.items())))
    config = replace(DetectorConfig(method=method), **METHOD_DEFAULTS[method])
    config = replace(config, **{k: v for k, v in overrides.items() if v is not None})
    if config.method == "learned" and config.threshold != "fixed":
        raise ValueError("the learned detector gives a probability: use a fixed threshold (0-1) or the model's")
    if config.threshold == "knee" and config.threshold_value is None:
        config = replace(config, threshold_value=KNEE_CEILING)
    if config.threshold not in ("fixed", "knee"):  # a value only means something as a cut or a ceiling
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

    def window(self, rows: slice, cols: slice, keep: np.ndarray) -> ChangeResult:
        """The result on a window of its grid, pixels outside `keep` blanked (scores NaN, mask off).

        The threshold and clean-up were decided on the whole grid: a region cut by the
        window keeps the verdict it had there.
        """
        score = self.score.isel(y=rows, x=cols).where(keep)
        mask = self.mask.isel(y=rows, x=cols) & keep
        valid = np.isfinite(score.values)
        share = float(mask.values[valid].mean()) if valid.any() else 0.0
        diagnostics = {**self.diagnostics, "flagged_share": round(share, 4)}
        return replace(self, score=score, mask=mask, diagnostics=diagnostics)


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
    if config.method == "auto":
        method, reason = choose_method(before.values, after.values, keys, config.model)
        given = {k: v for k, v in config.requested if method == "learned" or k != "model"}
        result = detect(before, after, default_config(method, **given), pixel_area_m2, callback=callback)
        result.diagnostics = {"method_choice": reason, **result.diagnostics}
        return result
    if config.method == "learned":
        return _detect_learned(before, after, config, pixel_area_m2, keys)
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
    return _finish(before, score, config, pixel_area_m2, used, diagnostics)


def _model_min_area(model) -> float:
    """The model's minimum region (pixels at its training resolution) in m².

    Half a pixel less than the count, so that on grids a few percent finer or coarser
    than 10 m (OSCD's resampled images) the rounding gives back the same pixel count.
    """
    return max(0.0, (model.min_region_px - 0.5) * model.pixel_size_m**2) if model.min_region_px > 1 else 0.0


def _detect_learned(
    before: xr.DataArray, after: xr.DataArray, config: DetectorConfig, pixel_area_m2: float, keys: list[str]
) -> ChangeResult:
    """Run the ONNX change network; unset threshold / minimum area take the model's values."""
    model = choose_model(keys, config.model)
    used = list(model.bands)
    score = learned_score(before.sel(band=used).values, after.sel(band=used).values, model)
    resolved = replace(
        config,
        model=str(model.path) if config.model else model.name,
        threshold_value=model.threshold if config.threshold_value is None else config.threshold_value,
        min_area_m2=_model_min_area(model) if config.min_area_m2 is None else config.min_area_m2,
    )
    return _finish(before, score, resolved, pixel_area_m2, used, {"model": model.describe()})


def _finish(
    before: xr.DataArray,
    score: np.ndarray,
    config: DetectorConfig,
    pixel_area_m2: float,
    used: list[str],
    diagnostics: dict[str, Any],
) -> ChangeResult:
    """Shared tail of every detector: smoothing, threshold, clean-up, labelled arrays."""
    score = nan_mean_filter(score, config.smooth)
    threshold = choose_threshold(score, config.threshold, config.threshold_value)
    mask = np.nan_to_num(score, nan=-np.inf) > threshold
    mask = clean_mask(
        mask,
        pixel_area_m2,
        min_area_m2=config.min_area_m2 or 0.0,
        opening_radius=config.opening_radius,
        closing_radius=config.closing_radius,
    )
    valid = np.isfinite(score)
    share = float(mask[valid].mean()) if valid.any() else 0.0
    diagnostics = {**diagnostics, "flagged_share": round(share, 4)}
    if share > FLAGGED_WARNING:
        diagnostics["warnings"] = [
            f"{config.method} flagged {share:.0%} of the image as changed: more likely a radiometric or "
            "registration difference between the dates than change; check both images, or try --method cva"
        ]
    coords = {k: v for k, v in before.coords.items() if k != "band"}
    return ChangeResult(
        score=xr.DataArray(score, dims=("y", "x"), coords=coords, name="change_score"),
        mask=xr.DataArray(mask, dims=("y", "x"), coords=coords, name="change_mask"),
        threshold=float(threshold),
        config=config,
        bands=used,
        diagnostics=diagnostics,
    )
