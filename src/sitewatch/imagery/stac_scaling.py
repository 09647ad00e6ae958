"""Digital numbers to one radiometric scale across processing baselines: the STAC items' own scale and offset.

From processing baseline 04.00 (25 January 2022) Sentinel-2 L1C/L2A digital numbers carry
a +1000 offset: the same ground reads 1000 higher than the day before, and a series that
crosses that date sees every band jump. The catalogues say so per asset, in the raster
extension (`raster:bands[].scale` and `.offset`: reflectance = DN x scale + offset) and in
`s2:processing_baseline`. Landsat Collection 2 declares its own scale and offset the same
way.

Pixels are put on one footing by applying what each asset declares and expressing the
result in units of 1/10,000: reflectance x 10,000 for reflectance bands, the scale of the
pre-04.00 Sentinel-2 digital numbers and of the learned model's training data. Assets that
declare nothing are left as they are. What was applied is recorded per scene.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pystac

#: Output unit: values are (DN x scale + offset) / OUTPUT_UNIT.
OUTPUT_UNIT = 1e-4


def declared_scaling(item: pystac.Item, asset_key: str) -> tuple[float, float] | None:
    """(scale, offset) the asset declares in `raster:bands`, or None when it declares neither."""
    bands: list[Any] = item.assets[asset_key].extra_fields.get("raster:bands") or []
    first = bands[0] if bands and isinstance(bands[0], dict) else {}
    scale, offset = first.get("scale"), first.get("offset")
    if scale is None and offset is None:
        return None
    scale = 1.0 if scale is None else float(scale)
    offset = 0.0 if offset is None else float(offset)
    if not (np.isfinite(scale) and np.isfinite(offset)) or scale == 0:
        raise ValueError(f"asset '{asset_key}' of {item.id} declares an unusable scale {scale} / offset {offset}")
    return scale, offset


def harmonise(
    stack: np.ndarray, bands: list[str], scalings: list[tuple[float, float] | None]
) -> dict[str, list[float]]:
    """Apply each band's declared (scale, offset) to `stack` (band, y, x) in place; return band -> [gain, bias].

    The gain and bias map the stored digital numbers to the output unit: value x gain + bias.
    Bands already in that unit (and those declaring nothing) are left out.
    """
    applied: dict[str, list[float]] = {}
    for index, (name, scaling) in enumerate(zip(bands, scalings, strict=True)):
        if scaling is None:
            continue
        scale, offset = scaling
        gain, bias = scale / OUTPUT_UNIT, offset / OUTPUT_UNIT
        if math.isclose(gain, 1.0, rel_tol=1e-9) and math.isclose(bias, 0.0, abs_tol=1e-9):
            continue
        band = stack[index]
        band *= np.float32(gain)
        band += np.float32(bias)
        applied[name] = [gain, bias]
    return applied
