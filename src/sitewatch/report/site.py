"""The site report across all runs: events with their review status, changed area over time,
and the provenance of every figure (which run, which scenes, which parameters, which version)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from sitewatch.events import KIND_LABELS
from sitewatch.report.html import _environment
from sitewatch.report.monitor import timeline_svg
from sitewatch.store.models import Run, SiteRecord
from sitewatch.store.repo import list_events


def area_over_time(events) -> list[dict[str, Any]]:
    """Cumulative changed m² by first-changed date, leaving out dismissed and suppressed events."""
    counted = sorted(
        (e for e in events if e.status != "dismissed" and e.suppressed_by is None and e.after_date),
        key=lambda e: e.after_date,
    )
    rows, total = [], 0.0
    for event in counted:
        total += event.area_m2
        if rows and rows[-1]["date"][:10] == event.after_date[:10]:
            rows[-1]["new_m2"] += round(event.area_m2, 1)
            rows[-1]["cumulative_m2"] = round(total, 1)
        else:
            rows.append({"date": event.after_date, "new_m2": round(event.area_m2, 1), "cumulative_m2": round(total, 1)})
    return rows


def render_site_report(session: Session, site: SiteRecord) -> str:
    events = list_events(session, site.id)
    runs = list(session.scalars(select(Run).where(Run.site_id == site.id).order_by(Run.id)))
    rows = area_over_time(events)
    return _environment.get_template("site.html.j2").render(
        site=site,
        events=events,
        runs=runs,
        kind_labels=KIND_LABELS,
        timeline=timeline_svg(rows) if rows else "",
        total_m2=rows[-1]["cumulative_m2"] if rows else 0.0,
    )
