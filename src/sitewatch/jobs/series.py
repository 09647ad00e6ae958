"""The monitoring job: every usable image of a site over a period, the changes, and when.

Sources (STAC presets, STAC API URLs, local folders) are loaded onto the site's UTM grid
and merged into one cube; scenes whose site is mostly clouded or empty are dropped with a
note; each pixel series gets one dated break (`sitewatch.detect.timeseries`); changed
regions become events whose date bracket is the last valid look before the break and the
first after it, with the number of looks that confirm it.
"""

from __future__ import annotations

import json
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from scipy import ndimage

from sitewatch import __version__
from sitewatch.base.atomic import staged_folder
from sitewatch.base.defaults import DEFAULT_MARGIN_M, DEFAULT_MIN_AREA_M2, DEFAULT_MIN_VALID
from sitewatch.base.errors import NoScenes
from sitewatch.base.keys import content_key
from sitewatch.base.progress import StageReporter, stage_detail, timed_stage
from sitewatch.base.vocab import CloudMask, Composite
from sitewatch.detect.cleanup import clean_mask
from sitewatch.detect.core import detection_bands
from sitewatch.detect.phases import detect_phases
from sitewatch.detect.timeseries import BreakConfig, Breaks
from sitewatch.events.dating import date_events
from sitewatch.events.export import write_events
from sitewatch.events.extract import EIGHT_CONNECTED, Event, extract_events
from sitewatch.events.phases import phase_events
from sitewatch.imagery.cache import cached, load_cached_cube, save_cube
from sitewatch.imagery.composite import composite
from sitewatch.imagery.coregister import coregister
from sitewatch.imagery.cube import SceneCube
from sitewatch.imagery.masks import drop_unusable
from sitewatch.imagery.normalize import normalise
from sitewatch.imagery.sources import PlannedSource, load_planned, plan_sources
from sitewatch.report.monitor import render_monitor_report
from sitewatch.sites import Site

#: What `write_monitor_outputs` writes into its folder.
OUTPUT_FILES = ("summary.json", "events.geojson", "events.gpkg", "events.kml", "report.html")


@dataclass
class MonitorConfig:
    start: str
    end: str
    sources: list[str]
    collection: str | None = None  # STAC collection (default: the preset's first, sentinel-2-l2a)
    max_cloud: float | None = None
    max_scenes: int | None = None
    resolution_m: float = 10.0
    margin_m: float = DEFAULT_MARGIN_M
    min_valid: float = DEFAULT_MIN_VALID
    min_area_m2: float = DEFAULT_MIN_AREA_M2
    cloud_mask: CloudMask = CloudMask.provider
    coregister: bool = True
    max_shift_px: float = 1.5
    normalise: bool = False
    composite: Composite | None = None
    bands: list[str] | None = None  # band names of local multiband files without names, in order
    max_memory_gb: float | None = None  # refuse grids whose cube would not fit (None: half the machine's memory)
    breaks: BreakConfig = field(default_factory=BreakConfig)

    def as_dict(self) -> dict[str, Any]:
        out = {k: v for k, v in self.__dict__.items() if k != "breaks"}  # StrEnum values are plain strings in JSON
        out["breaks"] = dict(self.breaks.__dict__)
        return out

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> MonitorConfig:
        """The config `as_dict` recorded (a stored run's parameters, an evidence bundle's provenance)."""
        known = {k: v for k, v in values.items() if k in cls.__dataclass_fields__}
        known["breaks"] = BreakConfig(**values.get("breaks", {}))
        known["cloud_mask"] = CloudMask(known.get("cloud_mask", CloudMask.provider))
        if known.get("composite") is not None:
            known["composite"] = Composite(known["composite"])
        return cls(**known)


@dataclass
class MonitorRun:
    site: Site
    config: MonitorConfig
    cube: SceneCube
    breaks: Breaks
    mask: np.ndarray  # (y, x) cleaned change mask
    labels: np.ndarray  # (y, x) region label of each changed pixel (Event.region), 0 elsewhere
    events: list[Event]
    timings_s: dict[str, float] = field(default_factory=dict)
    cache: dict[str, Any] = field(default_factory=dict)

    def timeline(self) -> list[dict[str, Any]]:
        """Changed area that appeared by each scene date (events by their first changed look)."""
        rows = []
        total = 0.0
        for scene in self.cube.scenes:
            new = sum(e.inside_m2 for e in self.events if e.after_date == scene.datetime)
            total += new
            rows.append({"date": scene.datetime, "new_m2": round(new, 1), "cumulative_m2": round(total, 1)})
        return rows

    def summary(self) -> dict[str, Any]:
        return {
            "sitewatch_version": __version__,
            "site": {"id": self.site.id, "name": self.site.name},
            "parameters": self.config.as_dict(),
            "grid": {"crs": str(self.cube.geobox.crs), "shape": list(self.cube.geobox.shape.yx)},
            "cube": {
                "scenes": [s.as_dict() for s in self.cube.scenes],
                "dropped": [s.as_dict() for s in self.cube.dropped],
                "bands": self.cube.bands,
            },
            "noise_per_band": dict(zip(self.cube.bands, np.round(self.breaks.noise, 4).tolist(), strict=False)),
            "results": {
                "event_count": len(self.events),
                "changed_area_m2": round(sum(e.inside_m2 for e in self.events), 1),  # inside the site
                # ground that changed at least once: phases of a place are further changes of the same ground
                "footprint_m2": round(sum(e.inside_m2 for e in self.events if not e.phase), 1),
                "phase_event_count": sum(1 for e in self.events if e.phase),
                "timeline": self.timeline(),
            },
            "cache": self.cache,
            "timings_s": {k: round(v, 2) for k, v in self.timings_s.items()},
        }


def plan(site: Site, config: MonitorConfig) -> list[PlannedSource]:
    """Search every source of `config` for the period (metadata only)."""
    return plan_sources(
        site,
        config.sources,
        config.start,
        config.end,
        collection=config.collection,
        max_cloud=config.max_cloud,
        max_scenes=config.max_scenes,
        band_names=config.bands,
    )


def clean_cube(
    site: Site, config: MonitorConfig, planned: list[PlannedSource], reporter: StageReporter | None, timings
) -> SceneCube:
    """Read, mask, drop unusable looks, co-register, normalise and composite, as `config` says."""
    with timed_stage("Loading scenes", reporter, timings):
        cube = load_planned(
            site,
            planned,
            resolution_m=config.resolution_m,
            margin_m=config.margin_m,
            cloud_mask=config.cloud_mask,
            on_scene=lambda i, n, name: stage_detail(reporter, f"scene {i}/{n}: {name}"),
            max_memory_bytes=None if config.max_memory_gb is None else int(config.max_memory_gb * 2**30),
        )
    with timed_stage("Dropping unusable scenes", reporter, timings):
        cube = drop_unusable(cube, config.min_valid)
    if config.coregister and len(cube) > 1:
        with timed_stage("Co-registering scenes (phase correlation)", reporter, timings):
            cube = coregister(cube, max_shift_px=config.max_shift_px)
    if config.normalise and len(cube) > 1:
        with timed_stage("Normalising radiometry on invariant pixels", reporter, timings):
            cube = normalise(cube)
    if config.composite:
        with timed_stage(f"Median composites per {config.composite}", reporter, timings):
            cube = composite(cube, str(config.composite))
    return cube


def cached_clean_cube(
    site: Site, config: MonitorConfig, reporter: StageReporter | None, cache_dir: str | Path | None, timings
) -> tuple[SceneCube, dict[str, Any], Future[Path] | None]:
    """The cleaned cube, from the cache when the plan's inputs and parameters are already there.

    A new cube is written to the cache by a background thread (compression and disk writes
    release the GIL), so the caller can date it meanwhile; the returned future says when
    the write is done.
    """
    with timed_stage("Searching the sources", reporter, timings):
        planned = plan(site, config)
    cache: dict[str, Any] = {"used": cache_dir is not None}
    if cache_dir is None:
        return clean_cube(site, config, planned, reporter, timings), cache, None
    parts = {
        "site": site.geometry.wkt,
        "config": {k: v for k, v in config.as_dict().items() if k not in ("breaks", "min_area_m2", "max_memory_gb")},
        "inputs": [p.fingerprint() for p in planned],
    }
    path = Path(cache_dir) / f"{content_key(parts)}.zarr"
    cache.update(path=str(path), hit=cached(path))
    if cache["hit"]:
        with timed_stage("Reading the cleaned cube from the cache", reporter, timings):
            cube = load_cached_cube(path)
            cube.site = site
        return cube, cache, None
    cube = clean_cube(site, config, planned, reporter, timings)

    def write() -> Path:
        started = time.perf_counter()
        save_cube(cube, path)
        cache["write_s"] = round(time.perf_counter() - started, 2)
        return path

    writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="cube-cache")
    pending = writer.submit(write)
    writer.shutdown(wait=False)
    return cube, cache, pending


def run_monitor(
    site: Site, config: MonitorConfig, reporter: StageReporter | None = None, cache_dir: str | Path | None = None
) -> MonitorRun:
    """Search, load and clean (or read the cached cube), date breaks, make events."""
    timings: dict[str, float] = {}
    cube, cache, pending = cached_clean_cube(site, config, reporter, cache_dir, timings)
    try:
        breaks, mask, labels, events = date_cube(cube, config, reporter, timings)
    finally:
        if pending is not None:  # the cube is read, never changed, while it is written
            with timed_stage("Caching the cleaned cube (Zarr, written while dating)", reporter, timings):
                pending.result()
    return MonitorRun(site, config, cube, breaks, mask, labels, events, timings, cache)


def date_cube(
    cube: SceneCube, config: MonitorConfig, reporter: StageReporter | None, timings: dict[str, float]
) -> tuple[Breaks, np.ndarray, np.ndarray, list[Event]]:
    """Date a break in every pixel series of `cube` and turn the changed regions into dated events."""
    if len(cube) < 2 * config.breaks.min_obs:
        raise NoScenes(
            f"only {len(cube)} usable scene(s) between {config.start} and {config.end}; dating needs at least "
            f"{2 * config.breaks.min_obs}: widen the period or the cloud limit"
        )
    bands = detection_bands(cube.bands, exclude_atmospheric=True)
    values = cube.data.values  # (T, all bands, y, x): the detection bands are picked chunk by chunk, not copied
    t, h, w, b = values.shape[0], values.shape[2], values.shape[3], len(bands)
    with timed_stage(f"Dating breaks in {h * w:,} pixel series of {t} looks", reporter, timings):
        series = values.reshape(t, values.shape[1], h * w)
        phases = detect_phases(series, config.breaks, bands=[cube.bands.index(band) for band in bands])
        breaks = phases.main
    pixel_area = abs(cube.geobox.resolution.x * cube.geobox.resolution.y)
    mask = clean_mask(breaks.changed.reshape(h, w), pixel_area, min_area_m2=config.min_area_m2)
    magnitude = breaks.magnitude.reshape(h, w)
    before = breaks.before_mean.reshape(b, h, w)
    after = before + np.nan_to_num(breaks.shift.reshape(b, h, w))
    with timed_stage("Turning changed regions into dated events", reporter, timings):
        events = extract_events(cube, mask, magnitude, before=before, after=after, bands=bands)
        labels, _ = ndimage.label(mask, structure=EIGHT_CONNECTED)  # the labelling extract_events used
        events = date_events(events, breaks, labels, cube)
        events += phase_events(cube, phases, labels, events, config.min_area_m2, bands)
    return breaks, mask, labels, events


def write_monitor_outputs(run: MonitorRun, out: str | Path, reporter: StageReporter | None = None) -> dict[str, Path]:
    """summary.json, events (GeoJSON/GPKG/KML) and report.html, written together or not at all."""
    out = Path(out)
    with staged_folder(out) as staging:
        summary = run.summary()
        (staging / "summary.json").write_text(json.dumps(summary, indent=1))
        write_events(run.events, staging, metadata={"site": summary["site"], "parameters": summary["parameters"]})
        with timed_stage("Rendering report", reporter, run.timings_s):
            html = render_monitor_report(run.site, summary, run.events, run.cube, run.labels)
            (staging / "report.html").write_text(html, encoding="utf-8")
        names = sorted(p.name for p in staging.iterdir())
    return {name: out / name for name in names}
