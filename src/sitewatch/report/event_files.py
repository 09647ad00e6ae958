"""Stored events as files for GIS tools and Google Earth: GeoJSON, KML, GeoPackage.

Used by the workbench's exports and the evidence bundles. The KML is styled (outline
coloured by review status, no fill) and carries a TimeSpan per event, from the last look
before the change to the first look after it, so Google Earth's time slider steps through
the changes.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import geopandas as gpd
import pyogrio
import shapely

from sitewatch.base.geo import WGS84

FORMATS = {
    "geojson": "application/geo+json",
    "kml": "application/vnd.google-earth.kml+xml",
    "gpkg": "application/geopackage+sqlite3",
}
#: Outline colours by review status (KML's OGR style, #RRGGBB).
STATUS_COLOURS = {"new": "#FFD600", "confirmed": "#E0301E", "dismissed": "#9E9E9E", "needs-imagery": "#1E88E5"}
COLUMNS = ["id", "site_id", "kind", "inside_m2", "area_m2", "score", "before_date", "after_date", "status"]


@contextmanager
def pinned_gdal_date() -> Iterator[None]:
    """GDAL (pyogrio's own) writes this date into a GeoPackage instead of now."""
    pyogrio.set_gdal_config_options({"OGR_CURRENT_DATE": "2000-01-01T00:00:00.000Z"})
    try:
        yield
    finally:
        pyogrio.set_gdal_config_options({"OGR_CURRENT_DATE": None})


def geojson_bytes(features: list[dict[str, Any]], site: dict[str, Any]) -> bytes:
    doc = {"type": "FeatureCollection", "features": features, "sitewatch": {"site": site}}
    return json.dumps(doc, indent=1).encode()


def _frame(features: list[dict[str, Any]], columns: list[str]) -> gpd.GeoDataFrame:
    rows = [{column: f["properties"].get(column) for column in columns} for f in features]
    for row, feature in zip(rows, features, strict=True):
        row["id"] = feature["properties"]["label"]
    geometries = [shapely.geometry.shape(f["geometry"]) for f in features]
    return gpd.GeoDataFrame(rows, columns=columns, geometry=geometries, crs=WGS84)


def table_bytes(features: list[dict[str, Any]], fmt: str, extra: list[str] | None = None) -> bytes:
    """GeoPackage or KML of the events, written to a temporary file and read back.

    The GeoPackage's change dates are pinned (GDAL's OGR_CURRENT_DATE), so the same events
    give the same bytes: evidence bundles must not differ by when they were made.
    """
    frame = _frame(features, COLUMNS + list(extra or []))
    with tempfile.TemporaryDirectory(prefix="sitewatch-export-") as folder, pinned_gdal_date():
        path = Path(folder) / f"events.{fmt}"
        if fmt == "gpkg":
            frame.to_file(path, driver="GPKG", layer="events")
        else:
            kml = frame.copy()
            kml.insert(0, "Name", [f"{row.id} {row.kind}" for row in frame.itertuples()])
            kml["description"] = [
                f"{row.kind}; {row.inside_m2:,.0f} m² inside the site; {row.status}; "
                f"unchanged {row.before_date or '?'}, changed {row.after_date or '?'}"
                for row in frame.itertuples()
            ]
            kml["begin"] = frame["before_date"].where(frame["before_date"] != "", None)
            kml["end"] = frame["after_date"].where(frame["after_date"] != "", None)
            kml["OGR_STYLE"] = [
                f"PEN(c:{STATUS_COLOURS.get(s, '#FFD600')},w:3px);BRUSH(fc:#00000000)" for s in frame["status"]
            ]
            kml.to_file(path, driver="LIBKML")
        return path.read_bytes()
