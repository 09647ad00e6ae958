"""Small coordinate helpers shared by every stage: UTM zones and WGS84 transforms.

Areas and grids are always computed in the UTM zone of the site, never in degrees.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import lru_cache

import shapely
from pyproj import CRS, Transformer
from shapely.geometry.base import BaseGeometry

WGS84 = CRS.from_epsg(4326)


def utm_zone(lon: float, lat: float) -> int:
    """UTM zone number of a point, with the Norway and Svalbard exceptions."""
    lon = ((lon + 180.0) % 360.0) - 180.0
    zone = min(60, int((lon + 180.0) // 6) + 1)
    if 56.0 <= lat < 64.0 and 3.0 <= lon < 12.0:
        return 32
    if 72.0 <= lat < 84.0 and 0.0 <= lon < 42.0:
        return 31 if lon < 9.0 else 33 if lon < 21.0 else 35 if lon < 33.0 else 37
    return zone


@lru_cache(maxsize=256)
def _utm_crs(epsg: int) -> CRS:
    return CRS.from_epsg(epsg)


def utm_crs_for(lon: float, lat: float) -> CRS:
    """The WGS84 UTM zone (EPSG:326xx north / 327xx south) containing a lon/lat point."""
    return _utm_crs((32600 if lat >= 0 else 32700) + utm_zone(lon, lat))


@lru_cache(maxsize=256)
def _transformer(src: str, dst: str) -> Transformer:
    return Transformer.from_crs(CRS.from_user_input(src), CRS.from_user_input(dst), always_xy=True)


def transformer(src: CRS | str, dst: CRS | str) -> Callable:
    """An x/y transform function (for shapely.ops.transform) from `src` to `dst`."""
    return _transformer(CRS.from_user_input(src).to_wkt(), CRS.from_user_input(dst).to_wkt()).transform


def reproject_geometry(geometry: BaseGeometry, src: CRS | str, dst: CRS | str) -> BaseGeometry:
    """`geometry` from `src` to `dst` (x/y order, as GeoJSON and GIS tools use)."""
    return shapely.transform(geometry, transformer(src, dst), interleaved=False)


def metres_per_degree(lat: float) -> tuple[float, float]:
    """(metres per degree of longitude, of latitude) on the WGS84 ellipsoid at `lat`."""
    a, e2 = 6_378_137.0, 0.00669437999014
    phi = math.radians(lat)
    w = 1.0 - e2 * math.sin(phi) ** 2
    return (math.pi / 180 * a * math.cos(phi) / math.sqrt(w), math.pi / 180 * a * (1.0 - e2) / w**1.5)
