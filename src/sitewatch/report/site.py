"""The site report across all runs: events with their review status, changed area over time,
and the provenance of every figure (which run, which scenes, which parameters, which version).

It renders what the caller read from the store (site, events, runs as the store's records,
or any objects with the same attributes); it never queries the store itself.
"""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import shapely

from sitewatch.events import KIND_LABELS
from sitewatch.report.environment import environment
from sitewatch.report.monitor import timeline_svg
from sitewatch.report.pictures import site_picture


def area_over_time(events) -> list[dict[str, Any]]:
    """Cumulative changed m² by first-changed date, leaving out dismissed and suppressed events."""
    counted = sorted(
        (e for e in events if e.status != "dismissed" and e.suppressed_by is None and e.after_date),
        key=lambda e: e.after_date,
    )
    rows, total = [], 0.0
    for event in counted:
        total += event.inside_m2
        if rows and rows[-1]["date"][:10] == event.after_date[:10]:
            rows[-1]["new_m2"] += round(event.inside_m2, 1)
            rows[-1]["cumulative_m2"] = round(total, 1)
        else:
            rows.append(
                {"date": event.after_date, "new_m2": round(event.inside_m2, 1), "cumulative_m2": round(total, 1)}
            )
    return rows


def _centre(wkt: str) -> tuple[float, float]:
    point = shapely.from_wkt(wkt).centroid
    return round(point.y, 6), round(point.x, 6)


def render_site_report(site: Any, events: list[Any], runs: list[Any], looks: dict[str, Any] | None = None) -> str:
    """The site report from its record, its events (with `status`) and its runs, oldest first.

    `looks`: the latest run's kept looks (`report.looks.read_manifest`, with its `folder` and
    `run_id`), for a map of the site with its events; without them the report has no map.
    """
    rows = area_over_time(events)
    site_map = None
    if looks and looks.get("looks"):
        last = looks["looks"][-1]
        outlines = [(f"E{e.id}", shapely.from_wkt(e.geometry_wkt)) for e in events if e.status != "dismissed"]
        picture = site_picture(
            Path(looks["folder"]) / last["file"], shapely.from_wkt(site.geometry_wkt), outlines, last["resolution_m"]
        )
        site_map = "data:image/png;base64," + base64.b64encode(picture).decode()
    return environment.get_template("site.html.j2").render(
        centre=_centre(site.geometry_wkt),
        centres={e.id: _centre(e.geometry_wkt) for e in events},
        site_map=site_map,
        map_run=(looks or {}).get("run_id"),
        site=site,
        events=events,
        runs=runs,
        kind_labels=KIND_LABELS,
        timeline=timeline_svg(rows) if rows else "",
        total_m2=rows[-1]["cumulative_m2"] if rows else 0.0,
    )
