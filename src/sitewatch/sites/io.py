"""Reading and writing site files: GeoJSON, KML/KMZ (Google Earth) and GeoPackage.

GeoJSON is parsed directly so list properties survive as lists; KML and GeoPackage go
through GDAL (pyogrio), which already knows Google Earth's folders, KMZ archives and
GeoPackage layers.
"""

from __future__ import annotations

import html
import json
import os
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import pyogrio
from pyproj import CRS
from shapely.errors import ShapelyError
from shapely.geometry import shape

from sitewatch.base.errors import InputError
from sitewatch.base.geo import WGS84, reproject_geometry
from sitewatch.sites.fields import ensure_unique_ids, flat_properties, site_from_record
from sitewatch.sites.model import SITE_FIELDS, Site
from sitewatch.sites.validate import DEFAULT_MAX_AREA_KM2

FORMATS = {".geojson": "geojson", ".json": "geojson", ".kml": "kml", ".kmz": "kml", ".gpkg": "gpkg"}
#: A site file larger than this (KMZ: once expanded) is refused: watchlists are thousands of
#: polygons, not gigabytes, and an archive that expands a thousandfold is an attack.
MAX_FILE_BYTES = 64 * 1024 * 1024
#: At most this many features in one site file.
MAX_FEATURES = 20_000


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
    _check_size(path)
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


def _too_large(path: Path, what: str) -> InputError:
    return InputError(f"{path}: {what} is larger than {MAX_FILE_BYTES // 2**20} MiB; split the watchlist into files")


def _too_many(path: Path, count: int) -> InputError:
    return InputError(f"{path}: holds {count:,} features, more than {MAX_FEATURES:,}; split it into several files")


def _check_size(path: Path) -> None:
    """Refuse oversized files, KMZ archives that expand too far, and KML with too many placemarks."""
    if path.stat().st_size > MAX_FILE_BYTES:
        raise _too_large(path, "the file")
    suffix = path.suffix.lower()
    if suffix == ".kmz":
        try:
            with zipfile.ZipFile(path) as archive:
                members = archive.infolist()
                if sum(m.file_size for m in members) > MAX_FILE_BYTES:
                    raise _too_large(path, "the expanded archive")
                placemarks = 0
                for member in members:
                    if member.filename.lower().endswith(".kml"):
                        with archive.open(member) as stream:
                            placemarks += _count_placemarks(stream, path)
        except (zipfile.BadZipFile, OSError, RuntimeError) as exc:
            raise InputError(f"{path}: not a readable KMZ archive ({exc}); re-export it") from exc
    elif suffix == ".kml":
        with open(path, "rb") as stream:
            placemarks = _count_placemarks(stream, path)
    else:
        return
    if placemarks > MAX_FEATURES:
        raise _too_many(path, placemarks)


def _count_placemarks(stream, path: Path) -> int:
    """`<Placemark` tags in a KML stream, read in blocks and never past MAX_FILE_BYTES."""
    token = b"<Placemark"
    count, read, carry = 0, 0, b""
    while block := stream.read(1 << 20):
        read += len(block)
        if read > MAX_FILE_BYTES:
            raise _too_large(path, "the expanded KML")
        text = carry + block
        count += text.count(token)
        carry = text[-(len(token) - 1) :]  # a tag cut by the block edge; too short to be counted twice
    return count


def _read_geojson(path: Path) -> list[tuple[dict[str, Any], Any]]:
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"{path}: not valid GeoJSON ({exc}); fix or re-export the file") from exc
    if not isinstance(doc, dict) or "type" not in doc:
        raise InputError(f"{path}: not a GeoJSON object; expected a FeatureCollection or Feature")
    if doc["type"] == "FeatureCollection":
        features = doc.get("features") or []
        if not isinstance(features, list):
            raise InputError(f"{path}: 'features' is not a list; fix the file")
        if len(features) > MAX_FEATURES:
            raise _too_many(path, len(features))
    elif doc["type"] == "Feature":
        features = [doc]
    else:
        features = [{"type": "Feature", "properties": {}, "geometry": doc}]
    src_crs = _legacy_crs(doc, path)
    records = []
    for feature in features:
        if not isinstance(feature, dict):
            raise InputError(f"{path}: a feature is not a JSON object; fix the file")
        raw = feature.get("properties") or {}
        if not isinstance(raw, dict):
            raise InputError(f"{path}: a feature's properties are not a JSON object; fix the file")
        props = dict(raw)
        if "id" in feature and "id" not in props:
            props["id"] = feature["id"]
        try:
            geom = shape(feature["geometry"]) if feature.get("geometry") else None
        except (KeyError, TypeError, ValueError, AttributeError, IndexError, ShapelyError) as exc:
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
    if fmt == "gpkg":
        try:
            count = sum(int(pyogrio.read_info(path, layer=layer).get("features") or 0) for layer in layers)
        except Exception as exc:
            raise InputError(f"{path}: cannot be read as GPKG ({exc}); re-export the file") from exc
        if count > MAX_FEATURES:
            raise _too_many(path, count)
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
            if fmt == "kml":  # written HTML-escaped (write_sites), so that balloons show text
                row = {k: html.unescape(v) if isinstance(v, str) else v for k, v in row.items()}
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
                # Google Earth shows Name and description as HTML in its balloons: escaped,
                # an analyst's text shows as text and runs nothing. The rest is ExtendedData.
                text = [c for c in frame.columns if c != "geometry"]
                frame[text] = frame[text].map(lambda v: html.escape(v) if isinstance(v, str) else v)
                frame = frame.rename(columns={"id": "site_id", "notes": "description"})
                frame.insert(0, "Name", frame.pop("name"))
                frame.to_file(tmp, driver="LIBKML")
            else:
                frame.to_file(tmp, driver="GPKG", layer="sites")
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path
