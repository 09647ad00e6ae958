"""The `Site` record: a named place an analyst watches, with its polygon in WGS84."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from pyproj import CRS
from shapely.geometry import MultiPolygon, Polygon, mapping

from sitewatch.base.geo import WGS84, reproject_geometry, utm_crs_for

#: Properties every site file format carries, in the order they are written.
SITE_FIELDS = ("id", "name", "aliases", "parent", "country", "tags", "notes", "sources")
LIST_FIELDS = ("aliases", "tags", "sources")


def slugify(text: str) -> str:
    """A stable, file- and URL-safe id from a free-text name ("Plant #2" -> "plant-2")."""
    slug = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:100].strip("-")
    return slug or "site"


@dataclass
class Site:
    """A watched place.

    `geometry` is a shapely Polygon or MultiPolygon in WGS84 lon/lat. `parent` names the
    complex a facility belongs to (e.g. a plant inside a larger military complex); `sources`
    are citations for why the polygon is where it is.
    """

    id: str
    name: str
    geometry: Polygon | MultiPolygon
    aliases: list[str] = field(default_factory=list)
    parent: str | None = None
    country: str | None = None
    tags: list[str] = field(default_factory=list)
    notes: str = ""
    sources: list[str] = field(default_factory=list)

    @property
    def utm_crs(self) -> CRS:
        """The UTM zone of the site's centroid: where areas and grids are computed."""
        centroid = self.geometry.centroid
        return utm_crs_for(centroid.x, centroid.y)

    def geometry_in(self, crs: CRS | str) -> Polygon | MultiPolygon:
        """The polygon reprojected to `crs`."""
        return reproject_geometry(self.geometry, WGS84, crs)

    @property
    def area_m2(self) -> float:
        """Area in square metres, measured in the site's UTM zone (never in degrees)."""
        return float(self.geometry_in(self.utm_crs).area)

    def properties(self) -> dict[str, Any]:
        """The descriptive fields as a plain dict (lists kept as lists)."""
        return {name: getattr(self, name) for name in SITE_FIELDS}

    def to_feature(self) -> dict[str, Any]:
        """A GeoJSON Feature for this site."""
        return {
            "type": "Feature",
            "id": self.id,
            "properties": self.properties(),
            "geometry": mapping(self.geometry),
        }
