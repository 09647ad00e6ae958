"""The brief: a PDF an editor or another analyst can read, made with WeasyPrint.

A cover with the site's map and every event's area with its uncertainty; a page per event
with the looks before and after the change at full resolution (outline, scale bar, north
arrow), coordinates, sensor, dates, ground resolution, date bracket, confirming looks, kind
and its evidence, and the review history; a last page of provenance: runs, parameters,
software, every scene's source and SHA-256, and how to verify and reproduce.
"""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import shapely
from jinja2 import Environment, FileSystemLoader

from sitewatch import __version__
from sitewatch.evidence.collect import Finding
from sitewatch.report.looks import look_index
from sitewatch.report.pictures import event_picture, site_picture

TEMPLATES = Path(__file__).parent / "templates"


def _uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode()


def _event_page(event: dict[str, Any], manifest: dict[str, Any] | None, payload: Path) -> dict[str, Any]:
    outline = shapely.geometry.shape(event["geometry"])
    centre = outline.centroid
    page = {**event, "lat": round(centre.y, 6), "lon": round(centre.x, 6), "pictures": []}
    if manifest:
        looks = manifest["looks"]
        before = look_index(looks, event["before_date"], 0)
        after = look_index(looks, event["after_date"], len(looks) - 1)
        for role, index in (("before", before), ("after", after)):
            look = looks[index]
            chip = payload / "chips" / event["label"] / look["file"]
            page["pictures"].append(
                {
                    "role": role,
                    "uri": _uri(event_picture(chip, outline, float(look["resolution_m"]))),
                    "date": (look.get("datetime") or "")[:10],
                    "sensor": look.get("sensor") or "sensor not recorded",
                    "resolution": look["resolution_m"],
                    "scene": look["scene_id"],
                }
            )
        page["looks"] = len(looks)
    return page


def render_brief(finding: Finding, payload: Path) -> str:
    """The brief's HTML (its images inline), from the finding and the bundle's chips in `payload`."""
    site_shape = shapely.geometry.shape(finding.site["geometry"])
    site_map = None
    last_run = finding.runs[-1]["id"] if finding.runs else None
    manifest = finding.looks.get(last_run) if last_run is not None else None
    if manifest:
        look = manifest["looks"][-1]
        events = [(e["label"], shapely.geometry.shape(e["geometry"])) for e in finding.events]
        site_map = _uri(
            site_picture(Path(manifest["folder"]) / look["file"], site_shape, events, float(look["resolution_m"]))
        )
    environment = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=True, trim_blocks=True, lstrip_blocks=True)
    return environment.get_template("brief.html.j2").render(
        site=finding.site,
        centre=(round(site_shape.centroid.y, 6), round(site_shape.centroid.x, 6)),
        site_map=site_map,
        events=[_event_page(e, finding.looks.get(e["run_id"]), payload) for e in finding.events],
        runs=finding.runs,
        scenes=finding.scenes,
        version=__version__,
    )


def write_brief(finding: Finding, payload: Path) -> Path:
    """Write `payload/brief.pdf` (WeasyPrint; the same finding gives the same bytes)."""
    from weasyprint import HTML  # imported here: it loads Pango, which only the brief needs

    target = payload / "brief.pdf"
    HTML(string=render_brief(finding, payload), base_url=str(payload)).write_pdf(target)
    return target
