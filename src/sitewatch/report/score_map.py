"""A change score and its mask as a two-band float32 COG on the grid they were computed on.

Written by the two-date job (`change_map.tif`) and kept with a watchlist run's looks
(`score.tif`, for evidence bundles): NaN where the score has no data, in both bands.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import rasterio
from odc.geo.geobox import GeoBox


def write_score_map(
    path: Path,
    geobox: GeoBox,
    score: np.ndarray,
    mask: np.ndarray,
    score_name: str = "change_score",
    tags: dict[str, str] | None = None,
) -> None:
    """Band 1 `score_name`, band 2 `change_mask` (1 changed, 0 not); `score` may be flat (y*x)."""
    values = np.asarray(score, dtype="float32").reshape(geobox.shape.y, geobox.shape.x)
    changed = np.where(np.isfinite(values), np.asarray(mask, dtype="float32").reshape(values.shape), np.nan)
    profile = {
        "driver": "COG",
        "width": geobox.shape.x,
        "height": geobox.shape.y,
        "count": 2,
        "dtype": "float32",
        "crs": geobox.crs.to_wkt(),
        "transform": geobox.affine,
        "nodata": np.nan,
        "compress": "deflate",
    }
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(np.stack([values, changed]))
        dst.set_band_description(1, score_name)
        dst.set_band_description(2, "change_mask")
        if tags:
            dst.update_tags(**tags)
