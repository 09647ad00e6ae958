"""How sure an area is: the m² of a change polygon with an error bar quoted beside it.

Two sources, added (one standard deviation each, summed to stay on the safe side):
- the pixel grid: a boundary pixel is changed or not as a whole, so the true edge lies
  anywhere within it; uniform over one pixel, that is pixel / sqrt(12) along the perimeter;
- co-registration: a residual shift between the looks puts change-like edges along the
  outline, about half the shift along the perimeter (a shift widens one side and narrows
  the other).
Both are capped at the area itself.
"""

from __future__ import annotations

import math

import shapely

from sitewatch.base.geo import WGS84, reproject_geometry, utm_crs_for

#: Co-registration residual assumed when a run recorded none (pixels).
DEFAULT_SHIFT_PX = 0.5


def area_uncertainty_m2(polygon_wgs84: shapely.Geometry, pixel_m: float, shift_px: float | None = None) -> float:
    """± m² of a polygon measured on a grid of `pixel_m` with a residual shift of `shift_px` pixels."""
    centre = polygon_wgs84.centroid
    local = reproject_geometry(polygon_wgs84, WGS84, utm_crs_for(centre.x, centre.y))
    shift = DEFAULT_SHIFT_PX if shift_px is None else abs(shift_px)
    per_metre_of_edge = pixel_m * (1 / math.sqrt(12) + 0.5 * shift)
    return min(per_metre_of_edge * local.length, local.area)
