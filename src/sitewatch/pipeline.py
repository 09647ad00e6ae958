"""The two-date job: site + two images -> change map, events, summary and report.

Each stage is a plain call on plain data (sites -> imagery -> detect -> events -> outputs);
this module only chains them and records what was done, so the same job runs from the CLI,
from a notebook, or from a later scheduler.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import rasterio

from sitewatch import __version__
from sitewatch.detect import ChangeResult, DetectorConfig, detect
from sitewatch.detect.bitemporal import IterationCallback
from sitewatch.events import Event, extract_events, write_events
from sitewatch.imagery import ImagePair, load_pair, open_image
from sitewatch.sites import Site

#: Reports a stage: called with a description when it starts and `None` once it succeeded.
StageReporter = Callable[[str | None], None]

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
    pair: ImagePair
    result: ChangeResult
    events: list[Event]
    site_repairs: list[str] = field(default_factory=list)
    timings_s: dict[str, float] = field(default_factory=dict)
    started_at: str = ""
    command: list[str] = field(default_factory=list)

    @property
    def changed_area_m2(self) -> float:
        return float(sum(e.area_m2 for e in self.events))

    def summary(self) -> dict[str, Any]:
        gb = self.pair.geobox
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
            "inputs": {"before": self.pair.sources[0].provenance(), "after": self.pair.sources[1].provenance()},
            "detector": {
                "parameters": self.result.config.as_dict(),
                "threshold": round(self.result.threshold, 6),
                "bands": self.result.bands,
                "diagnostics": self.result.diagnostics,
            },
            "results": {
                "event_count": len(self.events),
                "changed_area_m2": round(self.changed_area_m2, 1),
                "changed_area_by_kind_m2": {
                    kind: round(sum(e.area_m2 for e in self.events if e.kind == kind), 1)
                    for kind in sorted({e.kind for e in self.events})
                },
                "events_by_kind": dict(Counter(e.kind for e in self.events)),
            },
            "timings_s": {k: round(v, 3) for k, v in self.timings_s.items()},
            "outputs": OUTPUT_FILES,
            "events": [e.properties() for e in self.events],
        }


@contextmanager
def timed_stage(name: str, reporter: StageReporter | None, timings: dict[str, float]) -> Iterator[None]:
    if reporter is not None:
        reporter(name)
    start = time.perf_counter()
    yield  # on an exception the stage is not reported as done
    timings[name] = time.perf_counter() - start
    if reporter is not None:
        reporter(None)


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
) -> TwoDateRun:
    """Read, align, detect and extract events; nothing is written."""
    timings: dict[str, float] = {}
    started = datetime.now(UTC).isoformat(timespec="seconds")
    with timed_stage("Reading image metadata", reporter, timings):
        sources = (
            open_image(before, time=before_time, band_names=band_names),
            open_image(after, time=after_time, band_names=band_names),
        )
    with timed_stage("Aligning both dates on the site grid", reporter, timings):
        kwargs = {} if margin_m is None else {"margin_m": margin_m}
        pair = load_pair(sources[0], sources[1], site, resolution_m=resolution_m, **kwargs)
    with timed_stage(f"Detecting change ({config.method})", reporter, timings):
        result = detect(pair.before, pair.after, config, pair.pixel_area_m2, callback=on_iteration)
    with timed_stage("Extracting change events", reporter, timings):
        events = extract_events(result, pair)
    with timed_stage("Checksumming inputs", reporter, timings):
        for source in pair.sources:
            _ = source.checksums
    return TwoDateRun(site, pair, result, events, list(site_repairs or []), timings, started, list(sys.argv))


def write_change_map(run: TwoDateRun, path: Path) -> None:
    """Score and mask as a two-band float32 COG on the site grid (NaN = no data)."""
    gb = run.pair.geobox
    score = np.asarray(run.result.score.values, dtype="float32")
    mask = np.where(np.isfinite(score), run.result.mask.values.astype("float32"), np.nan)
    profile = {
        "driver": "COG",
        "width": gb.shape.x,
        "height": gb.shape.y,
        "count": 2,
        "dtype": "float32",
        "crs": gb.crs.to_wkt(),
        "transform": gb.affine,
        "nodata": np.nan,
        "compress": "deflate",
    }
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(np.stack([score, mask]))
        dst.set_band_description(1, "change_score")
        dst.set_band_description(2, "change_mask")
        dst.update_tags(
            sitewatch_version=__version__,
            method=run.result.method,
            threshold=str(run.result.threshold),
            parameters=json.dumps(run.result.config.as_dict()),
            before=str(run.pair.sources[0].path),
            after=str(run.pair.sources[1].path),
        )


def write_outputs(
    run: TwoDateRun, out_dir: str | os.PathLike[str], reporter: StageReporter | None = None
) -> dict[str, Path]:
    """Write every output into `out_dir`; files appear only once all are complete."""
    from sitewatch.report import render_report  # the report pulls in imaging libraries

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".sitewatch-", dir=out_dir))
    try:
        summary = run.summary()
        with timed_stage("Writing change map and events", reporter, run.timings_s):
            write_change_map(run, staging / OUTPUT_FILES["change_map"])
            write_events(run.events, staging, metadata={k: summary[k] for k in ("site", "inputs", "detector")})
        with timed_stage("Rendering report", reporter, run.timings_s):
            (staging / OUTPUT_FILES["report"]).write_text(render_report(run), encoding="utf-8")
        summary["timings_s"] = {k: round(v, 3) for k, v in run.timings_s.items()}
        (staging / OUTPUT_FILES["summary"]).write_text(json.dumps(summary, indent=1), encoding="utf-8")
        written = {}
        for key, name in OUTPUT_FILES.items():
            os.replace(staging / name, out_dir / name)
            written[key] = out_dir / name
        return written
    finally:
        shutil.rmtree(staging, ignore_errors=True)
