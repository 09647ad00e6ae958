"""What a bundle says, read from the store: the events, their site, the runs and scenes behind them.

Plain dicts, in a fixed order, so the same finding always gives the same files.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import shapely
from shapely.geometry import mapping
from sqlalchemy.orm import Session

from sitewatch.base.errors import InputError
from sitewatch.events import KIND_LABELS
from sitewatch.evidence.uncertainty import area_uncertainty_m2
from sitewatch.report.looks import read_manifest, run_looks_dir
from sitewatch.store.models import Event, Run
from sitewatch.store.overview import event_reviews, event_status, site_scenes
from sitewatch.store.repo import get_site, list_events, parse_event_id


@dataclass
class Finding:
    """One site's events and everything a reader needs to check them."""

    site: dict[str, Any]
    events: list[dict[str, Any]] = field(default_factory=list)
    runs: list[dict[str, Any]] = field(default_factory=list)
    scenes: list[dict[str, Any]] = field(default_factory=list)
    looks: dict[int, dict[str, Any]] = field(default_factory=dict)  # run id -> manifest (with its folder)


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def _looks(looks_dir: Path, site_id: str, run_id: int) -> dict[str, Any] | None:
    folder = run_looks_dir(looks_dir, site_id, run_id)
    manifest = read_manifest(folder)
    if manifest is not None:
        manifest["folder"] = str(folder)
    return manifest


def _shift_px(run: Run) -> float | None:
    """The largest co-registration shift a run recorded for its scenes, if it did."""
    shifts = [abs(v) for s in run.inputs.get("scenes", []) for v in (s.get("shift_px") or [])]
    return max(shifts) if shifts else None


def collect(session: Session, looks_dir: Path, *, event_ids: list[str] | None = None, site_id: str | None = None):
    """The finding of the given events (all of one site) or of every event of `site_id`."""
    if event_ids:
        events = []
        for text in event_ids:
            event = session.get(Event, parse_event_id(text))
            if event is None:
                raise InputError(f"no event {text} in the store; list them with `sitewatch events list`")
            events.append(event)
        sites = {e.site_id for e in events}
        if len(sites) > 1:
            raise InputError(f"events of several sites ({', '.join(sorted(sites))}); make one bundle per site")
        site_id = sites.pop()
    elif site_id:
        events = list_events(session, site_id)
        if not events:
            raise InputError(f"site '{site_id}' has no events yet; run it with `sitewatch watchlist run {site_id}`")
    else:
        raise InputError("name the events, or give --site")
    record = get_site(session, site_id)
    events = sorted(events, key=lambda e: e.id)
    run_ids = sorted({e.first_run_id for e in events})
    runs = {r.id: r for r in (session.get(Run, i) for i in run_ids)}
    finding = Finding(
        site={
            "id": record.id,
            "name": record.name,
            "aliases": list(record.aliases or []),
            "country": record.country,
            "geometry": mapping(shapely.from_wkt(record.geometry_wkt)),
        }
    )
    for run_id in run_ids:
        manifest = _looks(looks_dir, site_id, run_id)
        if manifest is not None:
            finding.looks[run_id] = manifest
        run = runs[run_id]
        finding.runs.append(
            {
                "id": run.id,
                "input_key": run.input_key,
                "parameters": run.parameters,
                "inputs": run.inputs,
                "software_version": run.software_version,
                "started_at": _iso(run.started_at),
                "finished_at": _iso(run.finished_at),
            }
        )
    for scene, used_by in site_scenes(session, site_id):
        if set(used_by) & set(run_ids):
            finding.scenes.append(
                {
                    "id": scene.scene_key.split("|", 1)[-1],
                    "datetime": scene.acquired_at,
                    "source": scene.source,
                    "sensor": scene.sensor,
                    "cloud_cover": scene.cloud_cover,
                    "checksum": scene.checksum,
                    "runs": sorted(set(used_by) & set(run_ids)),
                }
            )
    for event in events:
        shape = shapely.from_wkt(event.geometry_wkt)
        manifest = finding.looks.get(event.first_run_id)
        pixel_m = float(manifest["looks"][0]["resolution_m"]) if manifest else 10.0
        inside = event.inside_m2
        error = area_uncertainty_m2(shape, pixel_m, _shift_px(runs[event.first_run_id]))
        finding.events.append(
            {
                "id": event.id,
                "label": f"E{event.id:04d}",
                "site_id": event.site_id,
                "kind": event.kind,
                "kind_label": KIND_LABELS.get(event.kind, event.kind),
                "evidence": dict(event.evidence or {}),
                "area_m2": round(event.area_m2, 1),
                "inside_m2": round(inside, 1),
                "area_uncertainty_m2": round(min(error, event.area_m2), 1),
                "pixel_m": pixel_m,
                "score": round(event.score, 4),
                "before_date": (event.before_date or "")[:10],
                "after_date": (event.after_date or "")[:10],
                "confirmations": event.confirmations,
                "sightings": event.sightings,
                "status": event_status(session, event.id),
                "run_id": event.first_run_id,
                "reviews": [
                    {
                        "status": r.status,
                        "reason": r.reason,
                        "analyst": r.analyst,
                        "note": r.note,
                        "at": _iso(r.created_at),
                    }
                    for r in event_reviews(session, event.id)
                ],
                "geometry": mapping(shape),
            }
        )
    return finding
