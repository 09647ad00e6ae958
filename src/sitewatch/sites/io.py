"""Reading and writing site files: GeoJSON, KML/KMZ (Google Earth) and GeoPackage.

GeoJSON is parsed directly so list properties survive as lists; KML and GeoPackage go
through GDAL (pyogrio), which already knows Google Earth's folders, KMZ archives and
GeoPackage layers.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import pyogrio
from pyproj import CRS
from shapely.geometry import shape

from sitewatch.base.errors import InputError
from sitewatch.base.geo import WGS84, reproject_geometry
from sitewatch.sites.fields import ensure_unique_ids, flat_properties, site_from_record
from sitewatch.sites.model import SITE_FIELDS, Site
from sitewatch.sites.validate import DEFAULT_MAX_AREA_KM2

FORMATS = {".geojson": "geojson", ".json": "geojson", ".kml": "kml", ".kmz": "kml", ".gpkg": "gpkg"}


@dataclass
class SiteFile:
    """The sites read from one file, with every repair made while reading them."""

    path: Path
    sites: list[Site]
    repairs: list[str] = field(default_factory=list)

    def get(self, site_id: str | None) -> Site:
        """One site by id; with no id, the only site in the file."""
        if site_id is None:
            if len(self.sites) == 1:
                return self.sites[0]
            ids = ", ".join(s.id for s in self.sites)
            raise InputError(f"{self.path}: holds {len(self.sites)} sites ({ids}); pick one with --site-id")
        for site in self.sites:
            if site.id == site_id:
                return site
        ids = ", ".join(s.id for s in self.sites)
        raise InputError(f"{self.path}: no site with id '{site_id}' (it holds: {ids})")


def _format_of(path: Path) -> str:
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise InputError(f"{path}: unknown site file type '{path.suffix}'; use .geojson, .kml, .kmz or .gpkg")
    return fmt


def read_sites(
    path: str | os.PathLike[str],
    *,
    repair: bool = True,
    max_area_km2: float | None = DEFAULT_MAX_AREA_KM2,
) -> SiteFile:
    """Read and validate every site in a GeoJSON, KML/KMZ or GeoPackage file."""
    path = Path(path)
    fmt = _format_of(path)
    if not path.is_file():
        raise InputError(f"{path}: no such site file; check the path")
    records = _read_geojson(path) if fmt == "geojson" else _read_with_gdal(path, fmt)
    if not records:
        what = "polygon placemark" if fmt == "kml" else "feature"
        raise InputError(f"{path}: the file has no {what}; add the site outline as a polygon")
    sites, repairs = [], []
    for index, (props, geom) in enumerate(records, start=1):
        site, fixed = site_from_record(
            props,
            geom,
            str(path),
            fallback_id=f"{path.stem}-{index}",
            repair=repair,
            max_area_km2=max_area_km2,
        )
        sites.append(site)
        repairs.extend(f"{path} (site '{site.id}'): {msg}" for msg in fixed)
    return SiteFile(path, ensure_unique_ids(sites, str(path)), repairs)


def _read_geojson(path: Path) -> list[tuple[dict[str, Any], Any]]:
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"{path}: not valid GeoJSON ({exc}); fix or re-export the file") from exc
    if not isinstance(doc, dict) or "type" not in doc:
        raise InputError(f"{path}: not a GeoJSON object; expected a FeatureCollection or Feature")
    if doc["type"] == "FeatureCollection":
        features = doc.get("features") or []
    elif doc["type"] == "Feature":
        features = [doc]
    else:
        features = [{"type": "Feature", "properties": {}, "geometry": doc}]
    src_crs = _legacy_crs(doc, path)
    records = []
    for feature in features:
        props = dict(feature.get("properties") or {})
        if "id" in feature and "id" not in props:
            props["id"] = feature["id"]
        try:
            geom = shape(feature["geometry"]) if feature.get("geometry") else None
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise InputError(f"{path}: a feature has a malformed geometry ({exc}); fix the file") from exc
        if geom is not None and src_crs is not None:
            geom = reproject_geometry(geom, src_crs, WGS84)
        records.append((props, geom))
    return records


def _legacy_crs(doc: dict[str, Any], path: Path) -> CRS | None:
    """The pre-RFC 7946 `crs` member, when it names something other than WGS84."""
    name = ((doc.get("crs") or {}).get("properties") or {}).get("name")
    if not name:
        return None
    try:
        crs = CRS.from_user_input(name)
    except Exception as exc:
        raise InputError(f"{path}: unknown crs '{name}'; use WGS84 longitude/latitude") from exc
    return None if crs.equals(WGS84, ignore_axis_order=True) else crs


def _read_with_gdal(path: Path, fmt: str) -> list[tuple[dict[str, Any], Any]]:
    try:
        layers = [str(row[0]) for row in pyogrio.list_layers(path)]
    except Exception as exc:
        raise InputError(f"{path}: cannot be read as {fmt.upper()} ({exc}); re-export the file") from exc
    records = []
    for layer in layers:
        try:
            frame = gpd.read_file(path, layer=layer)
        except Exception as exc:
            raise InputError(f"{path}: layer '{layer}' cannot be read ({exc})") from exc
        if frame.empty:
            continue
        if frame.crs is not None and not frame.crs.equals(WGS84):
            frame = frame.to_crs(WGS84)
        polygonal = frame.geometry.geom_type.isin(["Polygon", "MultiPolygon", "GeometryCollection"])
        frame = frame[polygonal & frame.geometry.notna()]
        for row in frame.to_dict("records"):
            geom = row.pop("geometry")
            records.append((row, geom))
    return records


def write_sites(sites: list[Site], path: str | os.PathLike[str]) -> Path:
    """Write sites to GeoJSON, KML, KMZ or GeoPackage (by extension), atomically."""
    path = Path(path)
    fmt = _format_of(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=".tmp-", suffix=path.suffix, dir=path.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        if fmt == "geojson":
            doc = {"type": "FeatureCollection", "features": [s.to_feature() for s in sites]}
            tmp.write_text(json.dumps(doc, ensure_ascii=False, indent=1), encoding="utf-8")
        else:
            tmp.unlink()
            frame = gpd.GeoDataFrame(
                [flat_properties(s) for s in sites],
                columns=list(SITE_FIELDS),
                geometry=[s.geometry for s in sites],
                crs=WGS84,
            )
            if fmt == "kml":
                # Google Earth shows Name and description; the rest travels as ExtendedData.
                frame = frame.rename(columns={"id": "site_id", "notes": "description"})
                frame.insert(0, "Name", frame.pop("name"))
                frame.to_file(tmp, driver="LIBKML")
            else:
                frame.to_file(tmp, driver="GPKG", layer="sites")
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path
