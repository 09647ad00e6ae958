"""The evidence report: one self-contained HTML file an analyst can mail or archive.

Images are inlined as PNG data URIs; every analyst-supplied string goes through Jinja2's
autoescaping, so a site note with markup cannot inject script into the report.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from rasterio.features import geometry_mask

from sitewatch import __version__
from sitewatch.base.geo import WGS84, reproject_geometry
from sitewatch.events import KIND_LABELS, Event
from sitewatch.imagery.cube import SceneCube
from sitewatch.report import chips
from sitewatch.report.environment import environment
from sitewatch.sites import Site

#: Events labelled on the overlay image (the largest ones).
LABELLED_EVENTS = 25


def _event_positions(cube: SceneCube, events: list[Event]) -> list[tuple[str, float, float]]:
    """(event id, row, col) of the largest events' representative points on the grid."""
    gb = cube.geobox
    inverse = ~gb.affine
    out = []
    for event in events[:LABELLED_EVENTS]:
        point = event.geometry.representative_point()
        if not gb.crs.geographic:
            point = reproject_geometry(point, WGS84, gb.crs)
        col, row = inverse @ (point.x, point.y)
        out.append((event.id, row, col))
    return out


def _images(
    site: Site | None, cube: SceneCube, mask: np.ndarray, score: np.ndarray, events: list[Event]
) -> dict[str, str]:
    bands = cube.bands
    before = chips.rgb_chip(cube.before.values, bands)
    after = chips.rgb_chip(cube.after.values, bands)
    mask = np.asarray(mask, dtype=bool)
    site_mask = None
    if site is not None:
        gb = cube.geobox
        polygon = site.geometry if gb.crs.geographic else site.geometry_in(gb.crs)
        site_mask = geometry_mask([polygon], out_shape=gb.shape.yx, transform=gb.affine, invert=True)
    change = chips.label_events(chips.overlay(after, mask, site_mask), _event_positions(cube, events))
    return {
        "before": chips.png_data_uri(chips.overlay(before, np.zeros_like(mask), site_mask)),
        "after": chips.png_data_uri(chips.overlay(after, np.zeros_like(mask), site_mask)),
        "change": chips.png_data_uri(change),
        "score": chips.png_data_uri(chips.score_chip(np.asarray(score))),
    }


def report_context(
    site: Site, summary: dict[str, Any], cube: SceneCube, mask: np.ndarray, score: np.ndarray, events: list[Event]
) -> dict[str, Any]:
    """What the two-date template shows: the job's summary, its events and the images."""
    return {
        "summary": summary,
        "site": summary["site"],
        "inputs": summary["inputs"],
        "detector": summary["detector"],
        "grid": summary["grid"],
        "events": events,
        "kind_labels": KIND_LABELS,
        "images": _images(site, cube, mask, score, events),
        "version": __version__,
        "changed_area_m2": float(sum(e.inside_m2 for e in events)),
        "site_area_m2": site.area_m2,
    }


def render_report(
    site: Site, summary: dict[str, Any], cube: SceneCube, mask: np.ndarray, score: np.ndarray, events: list[Event]
) -> str:
    """The two-date report as an HTML string, from the job's summary, cube, change mask and score."""
    return environment.get_template("report.html.j2").render(**report_context(site, summary, cube, mask, score, events))
