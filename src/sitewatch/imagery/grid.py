"""The grid a site is analysed on: its UTM zone, at the finest native resolution.

Both dates are warped onto one grid so that pixels line up by georeference, not by array
index (OSCD pairs differ by a few pixels in size; commercial images never share a grid).
"""

from __future__ import annotations

import math

import rasterio
from odc.geo.geobox import GeoBox
from odc.geo.geom import Geometry

from sitewatch.base.defaults import DEFAULT_MARGIN_M
from sitewatch.sites import Site

#: Pixels outside the site polygon kept for context and for image statistics.
_STANDARD_RESOLUTIONS = (0.3, 0.5, 0.6, 1.0, 1.5, 2.0, 3.0, 4.0, 5.0, 10.0, 15.0, 20.0, 30.0, 60.0)


def snap_resolution(resolution_m: float, tolerance: float = 0.1) -> float:
    """Round a measured pixel size to the sensor's nominal one when it is within 10%.

    Imagery resampled into degrees (OSCD) measures 9.5-10.4 m for a 10 m sensor; a 9.95 m
    grid would help nobody.
    """
    for standard in _STANDARD_RESOLUTIONS:
        if abs(resolution_m - standard) <= tolerance * standard:
            return standard
    return round(resolution_m, 2)


def site_geobox(site: Site, resolution_m: float, margin_m: float = DEFAULT_MARGIN_M) -> GeoBox:
    """A north-up grid in the site's UTM zone covering the polygon plus `margin_m`."""
    if not math.isfinite(resolution_m) or resolution_m <= 0:
        raise ValueError(f"resolution must be a positive number of metres, not {resolution_m}")
    utm = site.utm_crs
    footprint = Geometry(site.geometry_in(utm), utm).buffer(max(margin_m, resolution_m))
    return GeoBox.from_geopolygon(footprint, resolution=resolution_m, crs=utm)


def geobox_of(path: str) -> GeoBox:
    """The grid of an existing raster (used to score against a label on that grid)."""
    with rasterio.open(path) as src:
        return GeoBox((src.height, src.width), src.transform, src.crs)
