"""A first guess of what kind of change a region is, from its spectral direction.

The guess is explicit rules on a handful of indices, with the numbers behind each guess
kept as evidence, so an analyst can see why a region was called "earthworks" and overrule
it. Brightness is compared *relative to the whole scene*, so a hazier or sunnier second
date does not turn every roof into a "new bright roof".
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np

from sitewatch.base import indices
from sitewatch.base.vocab import Kind, values

KINDS = values(Kind)
KIND_LABELS = {
    "built_up_gain": "new bright roof / built-up gain",
    "earthworks": "bare soil / earthworks",
    "vegetation_loss": "vegetation loss",
    "vegetation_gain": "vegetation gain",
    "water": "water change",
    "other": "other",
}


def _index(name: str, bands: Mapping[str, float]) -> float | None:
    if not indices.available(name, bands):
        return None
    value = float(indices.compute(name, {k: np.float32(v) for k, v in bands.items()}))
    return value if math.isfinite(value) else None


def spectral_evidence(
    before: Mapping[str, float],
    after: Mapping[str, float],
    scene_brightness_log_ratio: float = 0.0,
) -> dict[str, float]:
    """Index values before/after a region and its brightness change relative to the scene."""
    evidence: dict[str, float] = {}
    for name in ("ndvi", "ndbi", "mndwi", "bsi"):
        b, a = _index(name, before), _index(name, after)
        if b is not None and a is not None:
            evidence[f"{name}_before"] = round(b, 4)
            evidence[f"{name}_after"] = round(a, 4)
            evidence[f"{name}_change"] = round(a - b, 4)
    bright_b, bright_a = _index("brightness", before), _index("brightness", after)
    if bright_b and bright_a and bright_b > 0 and bright_a > 0:
        relative = math.log(bright_a / bright_b) - scene_brightness_log_ratio
        evidence["brightness_log_ratio_vs_scene"] = round(relative, 4)
    return evidence


def classify(evidence: Mapping[str, float]) -> str:
    """The kind of change suggested by `spectral_evidence` (rules in order of specificity)."""
    get = evidence.get
    if (
        get("mndwi_change") is not None
        and abs(get("mndwi_change")) > 0.2
        and max(get("mndwi_before"), get("mndwi_after")) > 0.1
    ):
        return "water"
    brighter = (get("brightness_log_ratio_vs_scene") or 0.0) > 0.1
    ndvi_after = get("ndvi_after")
    low_vegetation_after = ndvi_after is None or ndvi_after < 0.2
    if (
        get("bsi_after") is not None
        and get("bsi_after") > 0.05
        and get("bsi_change") > 0.05
        and (ndvi_after is None or ndvi_after < 0.25)
    ):
        return "earthworks"
    if brighter and low_vegetation_after:
        return "built_up_gain"
    if get("ndvi_change") is not None and get("ndvi_change") < -0.15 and get("ndvi_before") > 0.3:
        return "vegetation_loss"
    if get("ndvi_change") is not None and get("ndvi_change") > 0.15:
        return "vegetation_gain"
    return "other"
