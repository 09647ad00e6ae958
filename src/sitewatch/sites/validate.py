"""Checks that a site polygon is something imagery can be measured against.

A wrong polygon silently produces wrong square metres, so every problem an analyst can
plausibly make (lat/lon swapped, projected coordinates, zero area, bow-tie rings, a whole
province instead of a plant) is caught here with a message that says what to do.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import shapely
from shapely.geometry import GeometryCollection, MultiPolygon, Polygon
from shapely.geometry.base import BaseGeometry

from sitewatch.base.defaults import DEFAULT_MAX_AREA_KM2
from sitewatch.base.errors import InputError
from sitewatch.base.geo import WGS84, reproject_geometry, utm_crs_for

#: Sites are facilities and compounds, not regions: refuse polygons above this by default.
#: Below this a polygon is a line or a point drawn as a polygon.
MIN_AREA_M2 = 1.0


@dataclass
class CheckedGeometry:
    """A polygon that passed validation, with what was repaired on the way."""

    geometry: Polygon | MultiPolygon
    area_m2: float
    repairs: list[str] = field(default_factory=list)


def _polygonal_part(geom: BaseGeometry) -> Polygon | MultiPolygon | None:
    """Keep only the polygons of a geometry (make_valid can return mixed collections)."""
    if isinstance(geom, Polygon | MultiPolygon):
        return geom
    if isinstance(geom, GeometryCollection):
        polys: list[Polygon] = []
        for part in geom.geoms:
            sub = _polygonal_part(part)
            if sub is not None:
                polys.extend(sub.geoms if isinstance(sub, MultiPolygon) else [sub])
        if polys:
            merged = shapely.union_all(polys)
            return merged if isinstance(merged, Polygon | MultiPolygon) else None
    return None


def _check_coordinates(geom: BaseGeometry, label: str) -> None:
    coords = shapely.get_coordinates(geom)
    if coords.size == 0:
        raise InputError(f"{label}: the polygon is empty; draw the site outline and try again")
    if not np.all(np.isfinite(coords)):
        raise InputError(f"{label}: the polygon has non-numeric coordinates; fix the file")
    lon, lat = coords[:, 0], coords[:, 1]
    if np.abs(coords).max() > 1000:
        raise InputError(
            f"{label}: coordinates look projected (values up to {np.abs(coords).max():.0f}); "
            "site files must be WGS84 longitude/latitude in degrees - reproject the polygon"
        )
    lat_bad = np.abs(lat) > 90
    lon_bad = np.abs(lon) > 180
    if lat_bad.any() and not lon_bad.any() and np.all(np.abs(lon) <= 90):
        raise InputError(
            f"{label}: latitude {lat[lat_bad][0]:.4f} is out of range; the coordinates look "
            "swapped - GeoJSON and KML list longitude first, then latitude"
        )
    if lat_bad.any() or lon_bad.any():
        raise InputError(
            f"{label}: coordinates out of range (longitude must lie in -180..180, latitude in -90..90); fix the polygon"
        )
    if lon.max() - lon.min() > 180:
        raise InputError(
            f"{label}: the polygon spans {lon.min():.4f} to {lon.max():.4f} degrees of longitude, so it crosses "
            "the antimeridian (180°) or wraps the globe; split it into two sites, one each side of 180°"
        )


def check_geometry(
    geom: BaseGeometry | None,
    label: str,
    *,
    repair: bool = True,
    max_area_km2: float | None = DEFAULT_MAX_AREA_KM2,
) -> CheckedGeometry:
    """Validate a WGS84 site polygon, repairing self-intersections when `repair` is set.

    Raises InputError naming `label` for every problem it cannot repair.
    """
    if geom is None or geom.is_empty:
        raise InputError(f"{label}: no polygon; give the site an outline (Polygon or MultiPolygon)")
    geom = shapely.force_2d(geom)
    polygonal = _polygonal_part(geom)
    if polygonal is None:
        raise InputError(
            f"{label}: geometry is a {geom.geom_type}, not a polygon; sites need an outline (Polygon or MultiPolygon)"
        )
    _check_coordinates(polygonal, label)

    repairs: list[str] = []
    if not polygonal.is_valid:
        reason = shapely.is_valid_reason(polygonal)
        fixed = _polygonal_part(shapely.make_valid(polygonal))
        if fixed is None or fixed.is_empty or fixed.area == 0:
            raise InputError(
                f"{label}: the polygon has no area ({reason}); it is a line or a point - draw the site outline"
            )
        if not repair:
            raise InputError(f"{label}: invalid polygon ({reason}); fix the outline or allow repair")
        repairs.append(f"repaired invalid polygon ({reason}) with make_valid")
        polygonal = fixed

    centroid = polygonal.centroid
    area_m2 = float(reproject_geometry(polygonal, WGS84, utm_crs_for(centroid.x, centroid.y)).area)
    if area_m2 < MIN_AREA_M2:
        raise InputError(
            f"{label}: the polygon has no area ({area_m2:.2g} m²); it is a line or a point - draw the site outline"
        )
    if max_area_km2 is not None and area_m2 > max_area_km2 * 1e6:
        raise InputError(
            f"{label}: the polygon covers {area_m2 / 1e6:,.0f} km², more than the limit of "
            f"{max_area_km2:,.0f} km²; outline the facility itself or raise the limit "
            "(--max-area-km2)"
        )
    return CheckedGeometry(polygonal, area_m2, repairs)
