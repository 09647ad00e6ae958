"""The two-date job: site + two images -> change map, events, summary and report.

Each stage is a plain call on plain data (sites -> imagery -> detect -> events -> outputs);
this module only chains them and records what was done, so the same job runs from the CLI,
from a notebook, or from a later scheduler.
"""

from __future__ import annotations

import json
import os
import sys
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sitewatch import __version__
from sitewatch.base.atomic import staged_folder
from sitewatch.base.bands import COMMON_NAMES
from sitewatch.base.defaults import DEFAULT_MARGIN_M, NOISE_CONTEXT_M
from sitewatch.base.mad import IterationCallback
from sitewatch.base.progress import StageReporter, timed_stage
from sitewatch.detect import ChangeResult, DetectorConfig, detect
from sitewatch.events import Event, extract_events, write_events
from sitewatch.imagery import SceneCube, open_image
from sitewatch.imagery.align import crop_to_margin, load_pair_in_context
from sitewatch.report import render_report
from sitewatch.report.score_map import write_score_map
from sitewatch.sites import Site

OUTPUT_FILES = {
    "change_map": "change_map.tif",
    "events_geojson": "events.geojson",
    "events_gpkg": "events.gpkg",
    "events_kml": "events.kml",
    "summary": "summary.json",
    "report": "report.html",
}


@dataclass
class TwoDateRun:
    """Everything one two-date job produced, and how."""

    site: Site
    cube: SceneCube  # the two looks, on the site grid
    result: ChangeResult
    events: list[Event]
    site_repairs: list[str] = field(default_factory=list)
    timings_s: dict[str, float] = field(default_factory=dict)
    started_at: str = ""
    command: list[str] = field(default_factory=list)

    def warnings(self) -> list[str]:
        """What an analyst should know before trusting the figures."""
        out = list(self.result.diagnostics.get("warnings", []))
        if not any(key in COMMON_NAMES for key in self.cube.bands):
            out.append(
                f"the bands ({', '.join(self.cube.bands[:6])}...) have no names sitewatch knows, so every event's "
                "kind is 'other'; name them with --bands (e.g. red,green,blue,nir)"
            )
        return out

    @property
    def changed_area_m2(self) -> float:
        return float(sum(e.inside_m2 for e in self.events))  # inside the site: the margin is context

    def summary(self) -> dict[str, Any]:
        gb = self.cube.geobox
        crs = gb.crs.epsg
        return {
            "sitewatch_version": __version__,
            "generated_at": self.started_at,
            "command": self.command,
            "site": {**self.site.properties(), "area_m2": round(self.site.area_m2, 1), "repairs": self.site_repairs},
            "grid": {
                "crs": f"EPSG:{crs}" if crs else gb.crs.to_wkt(),
                "resolution_m": abs(float(gb.resolution.x)),
                "shape": list(gb.shape.yx),
                "transform": list(gb.affine)[:6],
            },
            "inputs": {"before": self.cube.files[0].provenance(), "after": self.cube.files[1].provenance()},
            "detector": {
                "warnings": self.warnings(),
                "parameters": self.result.config.as_dict(),
                "threshold": round(self.result.threshold, 6),
                "bands": self.result.bands,
                "diagnostics": self.result.diagnostics,
            },
            "results": {
                "event_count": len(self.events),
                "changed_area_m2": round(self.changed_area_m2, 1),
                "changed_area_by_kind_m2": {
                    kind: round(sum(e.inside_m2 for e in self.events if e.kind == kind), 1)
                    for kind in sorted({e.kind for e in self.events})
                },
                "events_by_kind": dict(Counter(e.kind for e in self.events)),
            },
            "timings_s": {k: round(v, 3) for k, v in self.timings_s.items()},
            "outputs": OUTPUT_FILES,
            "events": [e.properties() for e in self.events],
        }


def run_two_date(
    before: str | os.PathLike[str],
    after: str | os.PathLike[str],
    site: Site,
    config: DetectorConfig,
    *,
    before_time: str | None = None,
    after_time: str | None = None,
    band_names: list[str] | None = None,
    resolution_m: float | None = None,
    margin_m: float | None = None,
    site_repairs: list[str] | None = None,
    reporter: StageReporter | None = None,
    on_iteration: IterationCallback | None = None,
    max_memory_bytes: int | None = None,
) -> TwoDateRun:
    """Read, align, detect and extract events; nothing is written."""
    timings: dict[str, float] = {}
    started = datetime.now(UTC).isoformat(timespec="seconds")
    with timed_stage("Reading image metadata", reporter, timings):
        sources = (
            open_image(before, time=before_time, band_names=band_names),
            open_image(after, time=after_time, band_names=band_names),
        )
    margin = DEFAULT_MARGIN_M if margin_m is None else margin_m
    with timed_stage("Aligning both dates on the site grid", reporter, timings):
        context = load_pair_in_context(
            sources[0], sources[1], site, resolution_m=resolution_m, margin_m=margin, max_memory_bytes=max_memory_bytes
        )
    with timed_stage(f"Detecting change ({config.method})", reporter, timings):
        scored = detect(context.before, context.after, config, context.pixel_area_m2, callback=on_iteration)
        cube, (rows, cols), keep = crop_to_margin(context, margin)
        result = scored.window(rows, cols, keep)
        result.diagnostics["noise_context_m"] = max(margin, NOISE_CONTEXT_M)
    with timed_stage("Extracting change events", reporter, timings):
        events = extract_events(cube, result.mask.values, result.score.values)
    with timed_stage("Checksumming inputs", reporter, timings):
        for source in cube.files:
            _ = source.checksums
    return TwoDateRun(site, cube, result, events, list(site_repairs or []), timings, started, list(sys.argv))


def write_change_map(run: TwoDateRun, path: Path) -> None:
    """Score and mask as a two-band float32 COG on the site grid (NaN = no data)."""
    tags = {
        "sitewatch_version": __version__,
        "method": run.result.method,
        "threshold": str(run.result.threshold),
        "parameters": json.dumps(run.result.config.as_dict()),
        "before": str(run.cube.files[0].path),
        "after": str(run.cube.files[1].path),
    }
    write_score_map(path, run.cube.geobox, run.result.score.values, run.result.mask.values, tags=tags)


def write_outputs(
    run: TwoDateRun, out_dir: str | os.PathLike[str], reporter: StageReporter | None = None
) -> dict[str, Path]:
    """Write every output into `out_dir`; files appear only once all are complete."""
    out_dir = Path(out_dir)
    with staged_folder(out_dir) as staging:
        summary = run.summary()
        with timed_stage("Writing change map and events", reporter, run.timings_s):
            write_change_map(run, staging / OUTPUT_FILES["change_map"])
            write_events(run.events, staging, metadata={k: summary[k] for k in ("site", "inputs", "detector")})
        with timed_stage("Rendering report", reporter, run.timings_s):
            html = render_report(
                run.site, summary, run.cube, run.result.mask.values, run.result.score.values, run.events
            )
            (staging / OUTPUT_FILES["report"]).write_text(html, encoding="utf-8")
        summary["timings_s"] = {k: round(v, 3) for k, v in run.timings_s.items()}
        (staging / OUTPUT_FILES["summary"]).write_text(json.dumps(summary, indent=1), encoding="utf-8")
    return {key: out_dir / name for key, name in OUTPUT_FILES.items()}
