"""Store records as what pages and the API show: plain dicts, ids as analysts write them (E17)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import shapely
from shapely.geometry import mapping

from sitewatch.events import KIND_LABELS
from sitewatch.store.models import Event, Review, SiteRecord

#: Alert-rule fields never shown (secrets were stored in clear by early versions).
HIDDEN_RULES = {"secret", "secret_ref"}


def event_label(event_id: int) -> str:
    return f"E{event_id:04d}"


def when(value: datetime | str | None) -> str:
    """A time as 'YYYY-MM-DD HH:MM' (UTC), or '' for none."""
    if value is None:
        return ""
    text = value.isoformat() if isinstance(value, datetime) else str(value)
    return text[:16].replace("T", " ")


def day(value: str | None) -> str:
    return (value or "")[:10]


def geometry(wkt: str) -> dict[str, Any]:
    return mapping(shapely.from_wkt(wkt))


def site_feature(record: SiteRecord, **counts: Any) -> dict[str, Any]:
    """A site as a GeoJSON feature with its fields and `counts` (the WKT parsed once)."""
    shape = shapely.from_wkt(record.geometry_wkt)
    return {
        "type": "Feature",
        "id": record.id,
        "properties": {**site_view(record, shape), **counts},
        "geometry": mapping(shape),
    }


def event_view(event: Event, status: str) -> dict[str, Any]:
    return {
        "id": event.id,
        "label": event_label(event.id),
        "site_id": event.site_id,
        "kind": event.kind,
        "kind_label": KIND_LABELS.get(event.kind, event.kind),
        "area_m2": round(event.area_m2, 1),
        "inside_m2": round(event.inside_m2, 1),
        "score": round(event.score, 3),
        "before_date": day(event.before_date),
        "after_date": day(event.after_date),
        "confirmations": event.confirmations,
        "sightings": event.sightings,
        "status": status,
        "suppressed_by": event.suppressed_by,
        "phase": event.phase,
        "follows": event.follows_id,
        "first_run_id": event.first_run_id,
        "last_run_id": event.last_run_id,
        "evidence": dict(event.evidence or {}),
    }


def event_feature(event: Event, status: str) -> dict[str, Any]:
    return {
        "type": "Feature",
        "id": event.id,
        "properties": event_view(event, status),
        "geometry": geometry(event.geometry_wkt),
    }


def review_view(review: Review) -> dict[str, Any]:
    return {
        "id": review.id,
        "status": review.status,
        "reason": review.reason,
        "analyst": review.analyst,
        "note": review.note,
        "at": when(review.created_at),
    }


def site_view(record: SiteRecord, shape: shapely.Geometry | None = None) -> dict[str, Any]:
    """The site's fields and bounds (`shape`: its geometry, when the caller parsed it already)."""
    shape = shape if shape is not None else shapely.from_wkt(record.geometry_wkt)
    return {
        "id": record.id,
        "name": record.name,
        "aliases": list(record.aliases or []),
        "tags": list(record.tags or []),
        "country": record.country,
        "notes": record.notes,
        "bounds": [round(v, 7) for v in shape.bounds],
    }


def shown_rules(rules: dict[str, Any]) -> list[tuple[str, str]]:
    """A site's alert rules as (name, value) text, secrets left out."""
    return [(k, v if isinstance(v, str) else json.dumps(v)) for k, v in sorted(rules.items()) if k not in HIDDEN_RULES]
