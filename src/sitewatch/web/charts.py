"""The site page's timeline as inline SVG: changed m² over time per kind, and each event's date bracket.

Plain SVG with presentation attributes (no style attributes, no script), so it passes the
workbench's Content-Security-Policy and reads without JavaScript.
"""

from __future__ import annotations

from datetime import date
from html import escape
from typing import Any

#: One colour per kind (colour-blind-safe Okabe-Ito set).
KIND_COLOURS = {
    "built_up_gain": "#D55E00",
    "earthworks": "#E69F00",
    "vegetation_loss": "#009E73",
    "vegetation_gain": "#56B4E9",
    "water": "#0072B2",
    "other": "#CC79A7",
}


def _ordinal(text: str) -> int | None:
    try:
        return date.fromisoformat(text[:10]).toordinal()
    except (TypeError, ValueError):
        return None


def timeline_svg(events: list[dict[str, Any]], width: int = 560, height: int = 340) -> str:
    """Cumulative m² inside the site per kind (dismissed and suppressed left out), brackets below."""
    dated = [e for e in events if _ordinal(e["after_date"]) is not None]
    if not dated:
        return ""
    days = [d for e in dated for d in (_ordinal(e["before_date"]), _ordinal(e["after_date"])) if d is not None]
    first, last = min(days), max(days)
    span = max(last - first, 1)
    left, right, top, chart_bottom = 80, 12, 12, 170
    bracket_top = chart_bottom + 14
    legend_top = bracket_top + 84

    def x(day: int) -> float:
        return left + (day - first) / span * (width - left - right)

    counted = sorted(
        (e for e in dated if e["status"] != "dismissed" and not e["suppressed_by"]), key=lambda e: e["after_date"]
    )
    totals: dict[str, list[tuple[int, float]]] = {}
    for e in counted:
        series = totals.setdefault(e["kind"], [(first, 0.0)])
        series.append((_ordinal(e["after_date"]), series[-1][1] + e["inside_m2"]))
    peak = max((s[-1][1] for s in totals.values()), default=0.0) or 1.0

    def y(value: float) -> float:
        return chart_bottom - value / peak * (chart_bottom - top)

    parts = [
        f'<svg viewBox="0 0 {width} {height}" width="100%" role="img" aria-label="changed area over time">',
        f'<line x1="{left}" y1="{chart_bottom}" x2="{width - right}" y2="{chart_bottom}" stroke="#57606a"/>',
        f'<line x1="{left}" y1="{top}" x2="{left}" y2="{chart_bottom}" stroke="#57606a"/>',
        f'<text x="{left - 6}" y="{top + 10}" text-anchor="end" font-size="12">{peak:,.0f} m²</text>',
        f'<text x="{left - 6}" y="{chart_bottom}" text-anchor="end" font-size="12">0</text>',
        f'<text x="{left}" y="{bracket_top + 58}" font-size="12">{date.fromordinal(first).isoformat()}</text>',
        f'<text x="{width - right}" y="{bracket_top + 58}" text-anchor="end" font-size="12">'
        f"{date.fromordinal(last).isoformat()}</text>",
        f'<text x="{left - 6}" y="{bracket_top + 10}" text-anchor="end" font-size="12">brackets</text>',
    ]
    for row, (kind, series) in enumerate(sorted(totals.items())):
        colour = KIND_COLOURS.get(kind, "#333333")
        points: list[str] = []
        points_value = 0.0
        for day, value in series:
            if points:
                points.append(f"{x(day):.1f},{y(points_value):.1f}")  # step: flat until the change
            points.append(f"{x(day):.1f},{y(value):.1f}")
            points_value = value
        points.append(f"{x(last):.1f},{y(points_value):.1f}")
        parts.append(f'<polyline points="{" ".join(points)}" fill="none" stroke="{colour}" stroke-width="2.5"/>')
        label_x = left + (row % 2) * (width - left - right) / 2
        label_y = legend_top + (row // 2) * 18
        parts.append(f'<rect x="{label_x:.0f}" y="{label_y - 10}" width="12" height="12" fill="{colour}"/>')
        parts.append(
            f'<text x="{label_x + 18:.0f}" y="{label_y}" font-size="13">{escape(kind)}: {series[-1][1]:,.0f} m²</text>'
        )
    rows = max(1, min(len(dated), 12))
    for index, e in enumerate(dated):
        start = _ordinal(e["before_date"]) or _ordinal(e["after_date"])
        end = _ordinal(e["after_date"])
        lane = bracket_top + (index % rows) * (40 / rows)
        colour = "#9E9E9E" if e["status"] == "dismissed" else KIND_COLOURS.get(e["kind"], "#333333")
        parts.append(
            f'<line x1="{x(start):.1f}" y1="{lane:.1f}" x2="{max(x(end), x(start) + 2):.1f}" y2="{lane:.1f}" '
            f'stroke="{colour}" stroke-width="3"><title>{escape(e["label"])}: changed between '
            f"{escape(e['before_date'] or '?')} and {escape(e['after_date'])}, {e['inside_m2']:,.0f} m²</title></line>"
        )
    parts.append("</svg>")
    return "".join(parts)
