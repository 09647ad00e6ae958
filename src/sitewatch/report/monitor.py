"""The monitoring report: cube summary, timeline of changed area, dated events with chip strips.

One self-contained HTML file like the two-date report: PNG chips inlined, the timeline
drawn as inline SVG, analyst text escaped by Jinja2.
"""

from __future__ import annotations

from html import escape
from typing import Any

import numpy as np

from sitewatch.events import KIND_LABELS, Event
from sitewatch.imagery.cube import SceneCube
from sitewatch.report import chips
from sitewatch.report.environment import environment
from sitewatch.sites import Site

#: Events given a strip of chips through time, and looks per strip.
STRIP_EVENTS = 10
STRIP_LOOKS = 8
CHIP_MARGIN_PX = 8


def timeline_svg(rows: list[dict[str, Any]], width: int = 760, height: int = 220) -> str:
    """Cumulative changed m² against date, one point per look, as inline SVG."""
    if not rows:
        return ""
    days = np.array([np.datetime64(r["date"][:10], "D").astype(int) for r in rows], dtype=float)
    values = np.array([r["cumulative_m2"] for r in rows], dtype=float)
    left, right, top, bottom = 100, 10, 10, 40  # room for a label such as "12,345,000 m²"
    span = max(days.max() - days.min(), 1.0)
    top_value = max(values.max(), 1.0)
    xs = left + (days - days.min()) / span * (width - left - right)
    ys = height - bottom - values / top_value * (height - top - bottom)
    path = " ".join(f"{'M' if i == 0 else 'L'}{x:.1f},{y:.1f}" for i, (x, y) in enumerate(zip(xs, ys, strict=True)))
    dots = "".join(
        f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3"><title>{escape(r["date"][:10])}: '
        f"{r['cumulative_m2']:,.0f} m² (+{r['new_m2']:,.0f})</title></circle>"
        for x, y, r in zip(xs, ys, rows, strict=True)
    )
    first, last = rows[0]["date"][:10], rows[-1]["date"][:10]
    return (
        f'<svg viewBox="0 0 {width} {height}" width="100%" role="img" aria-label="changed area over time">'
        f'<line x1="{left}" y1="{height - bottom}" x2="{width - right}" y2="{height - bottom}" stroke="#57606a"/>'
        f'<line x1="{left}" y1="{top}" x2="{left}" y2="{height - bottom}" stroke="#57606a"/>'
        f'<text x="{left - 6}" y="{top + 10}" text-anchor="end" font-size="11">{top_value:,.0f} m²</text>'
        f'<text x="{left - 6}" y="{height - bottom}" text-anchor="end" font-size="11">0</text>'
        f'<text x="{left}" y="{height - 15}" font-size="11">{escape(first)}</text>'
        f'<text x="{width - right}" y="{height - 15}" text-anchor="end" font-size="11">{escape(last)}</text>'
        f'<path d="{path}" fill="none" stroke="#cf222e" stroke-width="2"/><g fill="#cf222e">{dots}</g></svg>'
    )


def _event_window(region: np.ndarray) -> tuple[slice, slice]:
    rows, cols = np.nonzero(region)
    h, w = region.shape
    y0, y1 = max(rows.min() - CHIP_MARGIN_PX, 0), min(rows.max() + CHIP_MARGIN_PX + 1, h)
    x0, x1 = max(cols.min() - CHIP_MARGIN_PX, 0), min(cols.max() + CHIP_MARGIN_PX + 1, w)
    return slice(y0, y1), slice(x0, x1)


def chip_strip(cube: SceneCube, labels: np.ndarray, event: Event) -> list[dict[str, str]]:
    """True-colour chips of the event's surroundings through time, around its break."""
    whole = labels == event.region
    rows, cols = _event_window(whole)
    region = whole[rows, cols]
    dates = [s.datetime for s in cube.scenes]
    after = dates.index(event.after_date) if event.after_date in dates else len(dates) // 2
    picks = list(range(max(0, after - STRIP_LOOKS // 2), min(len(dates), after + STRIP_LOOKS // 2)))
    bands = cube.bands
    out = []
    for index in picks:
        image = cube.look(index).values[:, rows, cols]
        rgb = chips.rgb_chip(image, bands)
        if index >= after:
            rgb = chips.overlay(rgb, region)
        role = "after (changed)" if index >= after else "before"
        out.append({"date": dates[index][:10], "role": role, "src": chips.png_data_uri(rgb)})
    return out


def render_monitor_report(
    site: Site, summary: dict[str, Any], events: list[Event], cube: SceneCube, labels: np.ndarray
) -> str:
    """The series report: the job's summary, its timeline, and chip strips of the largest events.

    `labels` is the region label of each changed pixel (`Event.region`), 0 elsewhere.
    """
    context = {
        "site": site,
        "summary": summary,
        "events": events,
        "kind_labels": KIND_LABELS,
        "timeline": timeline_svg(summary["results"]["timeline"]),
        "strips": {e.id: chip_strip(cube, labels, e) for e in events[:STRIP_EVENTS]},
        "changed_area_m2": summary["results"]["changed_area_m2"],
    }
    return environment.get_template("monitor.html.j2").render(**context)
