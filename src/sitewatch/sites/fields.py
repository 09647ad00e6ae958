"""Turning the loose attribute tables of real site files into `Site` records.

Files come from Google Earth, QGIS, hand-written GeoJSON and our own exports; each spells
names and lists differently. This module is the one place that knows those spellings.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from typing import Any

from shapely.geometry.base import BaseGeometry

from sitewatch.base.errors import InputError
from sitewatch.base.safety import check_site_id, clean_text
from sitewatch.sites.model import LIST_FIELDS, Site, slugify
from sitewatch.sites.validate import DEFAULT_MAX_AREA_KM2, check_geometry

_ALIASES = {
    "id": ("site_id", "id", "siteid"),
    "name": ("name", "Name", "title", "NAME"),
    "notes": ("notes", "description", "Description", "note"),
}


def _is_missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value)) or value == ""


def as_list(value: Any) -> list[str]:
    """A list of strings from a list, a JSON array string or a ';'-separated string."""
    if _is_missing(value):
        return []
    if isinstance(value, list | tuple):
        return [clean_text(str(v)) for v in value if not _is_missing(v)]
    text = str(value).strip()
    if text.startswith("["):
        try:
            parsed = json.loads(text)
        except json.JSONDecodeError:
            parsed = None
        if isinstance(parsed, list):
            return [clean_text(str(v)) for v in parsed]
    return [clean_text(part.strip()) for part in text.split(";") if part.strip()]


def _first(props: Mapping[str, Any], key: str) -> Any:
    for name in _ALIASES.get(key, (key,)):
        if name in props and not _is_missing(props[name]):
            return props[name]
    return None


def site_from_record(
    props: Mapping[str, Any],
    geometry: BaseGeometry | None,
    label: str,
    *,
    fallback_id: str,
    repair: bool = True,
    max_area_km2: float | None = DEFAULT_MAX_AREA_KM2,
) -> tuple[Site, list[str]]:
    """Build and validate one Site; returns it with the repairs that were made."""
    raw_id = _first(props, "id")
    name = None if _first(props, "name") is None else clean_text(str(_first(props, "name"))).strip()
    site_id = str(raw_id) if raw_id is not None else slugify(name) if name else slugify(fallback_id)
    check_site_id(site_id, label)  # the id becomes file names and URL parts
    where = f"{label} (site '{site_id}')"
    checked = check_geometry(geometry, where, repair=repair, max_area_km2=max_area_km2)
    optional = {key: _first(props, key) for key in ("parent", "country", "notes")}
    site = Site(
        id=site_id,
        name=name or site_id,
        geometry=checked.geometry,
        aliases=as_list(props.get("aliases")),
        parent=None if optional["parent"] is None else clean_text(str(optional["parent"])),
        country=None if optional["country"] is None else clean_text(str(optional["country"])),
        tags=as_list(props.get("tags")),
        notes="" if optional["notes"] is None else clean_text(str(optional["notes"]), keep_newlines=True),
        sources=as_list(props.get("sources")),
    )
    return site, checked.repairs


def ensure_unique_ids(sites: Iterable[Site], label: str) -> list[Site]:
    """Refuse two sites with one id: the id is how every later stage finds a site."""
    seen: set[str] = set()
    out = []
    for site in sites:
        if site.id in seen:
            raise InputError(f"{label}: two sites share the id '{site.id}'; give each a unique id")
        seen.add(site.id)
        out.append(site)
    return out


def flat_properties(site: Site) -> dict[str, Any]:
    """Properties for table formats (GeoPackage, KML): lists become JSON strings."""
    props = site.properties()
    for key in LIST_FIELDS:
        props[key] = json.dumps(props[key], ensure_ascii=False)
    return props
