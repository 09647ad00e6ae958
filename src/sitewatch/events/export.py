"""Writing events for GIS tools and Google Earth: GeoJSON, GeoPackage, KML.

All three carry WGS84 polygons and the same attributes; GeoJSON keeps nested evidence as
objects, the table formats carry it as JSON text.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import geopandas as gpd
from shapely.geometry import mapping

from sitewatch.base.geo import WGS84
from sitewatch.events.extract import Event
from sitewatch.events.kind import KIND_LABELS

EXPORT_FORMATS = ("geojson", "gpkg", "kml")


def events_geojson(events: list[Event], metadata: dict[str, Any] | None = None) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "type": "FeatureCollection",
        "features": [
            {"type": "Feature", "id": e.id, "properties": e.properties(), "geometry": mapping(e.geometry)}
            for e in events
        ],
    }
    if metadata:
        doc["sitewatch"] = metadata
    return doc


def events_frame(events: list[Event]) -> gpd.GeoDataFrame:
    """Events as a flat GeoDataFrame (nested fields as JSON text)."""
    rows = []
    for e in events:
        props = e.properties()
        props["evidence"] = json.dumps(props["evidence"])
        props["before_source"] = e.sources.get("before")
        props["after_source"] = e.sources.get("after")
        del props["sources"]
        rows.append(props)
    columns = [
        "id",
        "kind",
        "area_m2",
        "pixel_count",
        "mean_score",
        "max_score",
        "before_date",
        "after_date",
        "site_overlap",
        "evidence",
        "before_source",
        "after_source",
    ]
    return gpd.GeoDataFrame(rows, columns=columns, geometry=[e.geometry for e in events], crs=WGS84)


def _kml_description(e: Event) -> str:
    return (
        f"{KIND_LABELS.get(e.kind, e.kind)}; {e.area_m2:,.0f} m²; score {e.mean_score:.2f}; "
        f"unchanged {e.before_date or 'unknown'} - changed {e.after_date or 'unknown'}"
    )


def write_events(
    events: list[Event], out_dir: Path, stem: str = "events", metadata: dict[str, Any] | None = None
) -> dict[str, Path]:
    """Write events as <stem>.geojson, <stem>.gpkg and <stem>.kml in `out_dir`."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {fmt: out_dir / f"{stem}.{fmt}" for fmt in EXPORT_FORMATS}
    paths["geojson"].write_text(json.dumps(events_geojson(events, metadata), indent=1), encoding="utf-8")
    frame = events_frame(events)
    frame.to_file(paths["gpkg"], driver="GPKG", layer="events")
    kml = frame[["id", "geometry"]].copy()
    kml.insert(0, "Name", [f"{e.id} {KIND_LABELS.get(e.kind, e.kind)}" for e in events])
    kml["description"] = [_kml_description(e) for e in events]
    for column in ("kind", "area_m2", "mean_score", "before_date", "after_date"):
        kml[column] = frame[column]
    kml.to_file(paths["kml"], driver="LIBKML")
    return paths
