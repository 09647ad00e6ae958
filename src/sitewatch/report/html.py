"""The evidence report: one self-contained HTML file an analyst can mail or archive.

Images are inlined as PNG data URIs; every analyst-supplied string goes through Jinja2's
autoescaping, so a site note with markup cannot inject script into the report.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
from jinja2 import Environment, PackageLoader, select_autoescape
from rasterio.features import geometry_mask

from sitewatch import __version__
from sitewatch.events import KIND_LABELS
from sitewatch.geo import WGS84, reproject_geometry
from sitewatch.report import chips

if TYPE_CHECKING:
    from sitewatch.pipeline import TwoDateRun

#: Events labelled on the overlay image (the largest ones).
LABELLED_EVENTS = 25

_environment = Environment(
    loader=PackageLoader("sitewatch", "report/templates"),
    autoescape=select_autoescape(["html", "j2"]),
    trim_blocks=True,
    lstrip_blocks=True,
)


def _event_positions(run: TwoDateRun) -> list[tuple[str, float, float]]:
    """(event id, row, col) of the largest events' representative points on the grid."""
    gb = run.pair.geobox
    inverse = ~gb.affine
    out = []
    for event in run.events[:LABELLED_EVENTS]:
        point = event.geometry.representative_point()
        if not gb.crs.geographic:
            point = reproject_geometry(point, WGS84, gb.crs)
        col, row = inverse @ (point.x, point.y)
        out.append((event.id, row, col))
    return out


def _images(run: TwoDateRun) -> dict[str, str]:
    pair = run.pair
    bands = pair.bands
    before = chips.rgb_chip(pair.before.values, bands)
    after = chips.rgb_chip(pair.after.values, bands)
    mask = np.asarray(run.result.mask.values, dtype=bool)
    site_mask = None
    if run.site is not None:
        polygon = run.site.geometry if pair.geobox.crs.geographic else run.site.geometry_in(pair.geobox.crs)
        site_mask = geometry_mask([polygon], out_shape=pair.geobox.shape.yx, transform=pair.geobox.affine, invert=True)
    change = chips.label_events(chips.overlay(after, mask, site_mask), _event_positions(run))
    return {
        "before": chips.png_data_uri(chips.overlay(before, np.zeros_like(mask), site_mask)),
        "after": chips.png_data_uri(chips.overlay(after, np.zeros_like(mask), site_mask)),
        "change": chips.png_data_uri(change),
        "score": chips.png_data_uri(chips.score_chip(np.asarray(run.result.score.values))),
    }


def report_context(run: TwoDateRun) -> dict[str, Any]:
    summary = run.summary()
    return {
        "summary": summary,
        "site": summary["site"],
        "inputs": summary["inputs"],
        "detector": summary["detector"],
        "grid": summary["grid"],
        "events": run.events,
        "kind_labels": KIND_LABELS,
        "images": _images(run),
        "version": __version__,
        "changed_area_m2": run.changed_area_m2,
        "site_area_m2": run.site.area_m2,
    }


def render_report(run: TwoDateRun) -> str:
    """The report for a two-date run as an HTML string."""
    return _environment.get_template("report.html.j2").render(**report_context(run))
