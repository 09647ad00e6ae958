"""The monitoring job: every usable image of a site over a period, the changes, and when.

Sources (STAC presets, STAC API URLs, local folders) are loaded onto the site's UTM grid
and merged into one cube; scenes whose site is mostly clouded or empty are dropped with a
note; each pixel series gets one dated break (`sitewatch.detect.timeseries`); changed
regions become events whose date bracket is the last valid look before the break and the
first after it, with the number of looks that confirm it.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr
from scipy import ndimage

from sitewatch import __version__
from sitewatch.crashpoints import pause_here
from sitewatch.detect import ChangeResult, DetectorConfig
from sitewatch.detect.cleanup import clean_mask
from sitewatch.detect.core import detection_bands
from sitewatch.detect.timeseries import BreakConfig, Breaks, detect_breaks
from sitewatch.errors import InputError
from sitewatch.events.export import write_events
from sitewatch.events.extract import EIGHT_CONNECTED, Event, extract_events
from sitewatch.imagery.align import ImagePair, site_masks
from sitewatch.imagery.grid import DEFAULT_MARGIN_M, site_geobox
from sitewatch.imagery.scenes import SceneCube, merge_cubes
from sitewatch.pipeline import StageReporter, timed_stage
from sitewatch.sites import Site

#: Scenes with less valid site area than this are dropped before dating.
DEFAULT_MIN_VALID = 0.5


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
    min_area_m2: float = 500.0
    cloud_mask: str = "provider"  # "provider" (SCL / QA_PIXEL when the source has them) or "s2cloudless"
    coregister: bool = True
    max_shift_px: float = 1.5
    normalise: bool = False
    composite: str | None = None  # None, "month" or "quarter"
    breaks: BreakConfig = field(default_factory=BreakConfig)

    def as_dict(self) -> dict[str, Any]:
        out = {k: v for k, v in self.__dict__.items() if k != "breaks"}
        out["breaks"] = dict(self.breaks.__dict__)
        return out


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
            new = sum(e.area_m2 for e in self.events if e.after_date == scene.datetime)
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
                "changed_area_m2": round(sum(e.area_m2 for e in self.events), 1),
                "timeline": self.timeline(),
            },
            "cache": self.cache,
            "timings_s": {k: round(v, 2) for k, v in self.timings_s.items()},
        }


def site_grid(site: Site, resolution_m: float, margin_m: float):
    """(geobox, inside-site mask, inside site+margin mask) for a site."""
    geobox = site_geobox(site, resolution_m, margin_m)
    inside, kept = site_masks(site, geobox, margin_m)
    return geobox, inside, kept


def _in_period(datetime_iso: str, start: str, end: str) -> bool:
    return start <= datetime_iso[:10] <= end


@dataclass
class PlannedSource:
    """One source's scenes for the period, found but not read yet."""

    spec: str
    scenes: list[Any]  # ImageSource (local) or pystac.Item (STAC)
    stac: Any = None  # StacSource for STAC specs

    def fingerprint(self) -> list[dict[str, Any]]:
        from sitewatch.imagery.cache import file_fingerprint

        if self.stac is None:
            return [file_fingerprint(b.path) for s in self.scenes for b in s.bands]
        return [
            {
                "id": item.id,
                "updated": item.properties.get("updated"),
                "assets": sorted(a.href for a in item.assets.values()),
            }
            for item in self.scenes
        ]


def plan_sources(site: Site, config: MonitorConfig) -> list[PlannedSource]:
    """Search every source for the period (cheap: metadata only)."""
    from sitewatch.imagery.local_series import open_series

    planned = []
    for spec in config.sources:
        path = Path(spec)
        if path.exists():
            scenes = [s for s in open_series(path) if _in_period(s.time.iso or "", config.start, config.end)]
            if not scenes:
                raise InputError(f"{path}: no scene dated between {config.start} and {config.end}")
            planned.append(PlannedSource(spec, scenes))
        else:
            from sitewatch.imagery.stac import resolve_source, search_items

            source = resolve_source(spec, config.collection)
            items = search_items(
                source, site, config.start, config.end, max_cloud=config.max_cloud, max_scenes=config.max_scenes
            )
            planned.append(PlannedSource(spec, items, source))
    return planned


def load_cube(
    site: Site, config: MonitorConfig, planned: list[PlannedSource], reporter: StageReporter | None = None
) -> SceneCube:
    """Every planned scene read onto the site grid, merged in time order."""
    from sitewatch.imagery.local_series import load_series
    from sitewatch.imagery.stac import load_items

    geobox, inside, kept = site_grid(site, config.resolution_m, config.margin_m)
    cubes = []
    for plan in planned:
        if plan.stac is None:
            cubes.append(load_series(plan.scenes, geobox, inside, on_scene=_scene_progress(reporter)))
        else:
            cubes.append(load_items(plan.scenes, plan.stac, geobox, inside, on_scene=_scene_progress(reporter)))
    cube = merge_cubes(cubes)
    cube.data = cube.data.where(xr.DataArray(kept, dims=("y", "x")))
    return cube


def _clean_cube(site: Site, config: MonitorConfig, planned, reporter, timings) -> SceneCube:
    with timed_stage("Loading scenes", reporter, timings):
        cube = load_cube(site, config, planned, reporter)
    if config.cloud_mask == "s2cloudless":
        with timed_stage("Masking clouds with s2cloudless", reporter, timings):
            cube = mask_clouds_s2cloudless(cube)
    with timed_stage("Dropping unusable scenes", reporter, timings):
        cube = drop_unusable(cube, config.min_valid)
    if config.coregister and len(cube) > 1:
        from sitewatch.imagery.coregister import coregister

        with timed_stage("Co-registering scenes (phase correlation)", reporter, timings):
            cube = coregister(cube, max_shift_px=config.max_shift_px)
    if config.normalise and len(cube) > 1:
        from sitewatch.imagery.normalize import normalise

        with timed_stage("Normalising radiometry on invariant pixels", reporter, timings):
            cube = normalise(cube)
    if config.composite:
        from sitewatch.imagery.composite import composite

        with timed_stage(f"Median composites per {config.composite}", reporter, timings):
            cube = composite(cube, config.composite)
    return cube


def _scene_progress(reporter: StageReporter | None):
    """Per-scene progress for the reporter; crash tests may hold the run half-way (stage 0)."""
    detail = getattr(reporter, "detail", None)

    def on_scene(index: int, count: int, name: str) -> None:
        if detail is not None:
            detail(f"scene {index}/{count}: {name}")
        if index == count // 2 + 1:
            pause_here(0)  # half the scenes read, nothing cached or stored

    return on_scene


def mask_clouds_s2cloudless(cube: SceneCube) -> SceneCube:
    """Clouds of Sentinel-2 L1C scenes (which carry no SCL) masked out with s2cloudless."""
    from sitewatch.imagery.masks import s2cloudless_valid

    data = cube.data.values.copy()
    for index, scene in enumerate(cube.scenes):
        valid = s2cloudless_valid(data[index], cube.bands)
        data[index][:, ~valid] = np.nan
        share = float((~valid)[cube.site_mask].mean()) if cube.site_mask.any() else float((~valid).mean())
        scene.notes.append(f"s2cloudless: {share:.0%} of the site clouded")
    cube.data = cube.data.copy(data=data)
    return cube


def drop_unusable(cube: SceneCube, min_valid: float) -> SceneCube:
    """Drop scenes whose site is mostly invalid (clouds, no data), noting why."""
    fractions = cube.valid_fractions()
    keep = fractions >= min_valid
    for index, fraction in enumerate(fractions):
        cube.scenes[index].valid_fraction = round(float(fraction), 3)
        if not keep[index]:
            cube.drop(index, f"only {fraction:.0%} of the site is clear (needs {min_valid:.0%})")
    return cube.select(keep)


def _region_dates(breaks: Breaks, labels: np.ndarray, region: int, cube: SceneCube) -> tuple[str, str, int]:
    """Most common bracket among a region's pixels, and its median number of confirming looks."""
    flat = labels.ravel() == region
    after = breaks.first_after[flat]
    after = after[after >= 0]
    first_after = int(np.bincount(after).argmax())
    same = flat.copy()
    same[flat] = breaks.first_after[flat] == first_after
    last_before = int(np.bincount(breaks.last_before[same][breaks.last_before[same] >= 0]).argmax())
    confirmations = int(np.median(breaks.n_after[same]))
    return cube.scenes[last_before].datetime, cube.scenes[first_after].datetime, confirmations


def date_events(events: list[Event], breaks: Breaks, labels: np.ndarray, cube: SceneCube) -> list[Event]:
    for event in events:
        event.before_date, event.after_date, event.confirmations = _region_dates(breaks, labels, event.region, cube)
        event.sources = {"scenes": [s.id for s in cube.scenes if event.before_date <= s.datetime <= event.after_date]}
    return events


def run_monitor(
    site: Site, config: MonitorConfig, reporter: StageReporter | None = None, cache_dir: str | Path | None = None
) -> MonitorRun:
    """Search, load and clean (or read the cached cube), date breaks, make events."""
    timings: dict[str, float] = {}
    with timed_stage("Searching the sources", reporter, timings):
        planned = plan_sources(site, config)
    cache: dict[str, Any] = {"used": cache_dir is not None}
    if cache_dir is not None:
        from sitewatch.imagery.cache import cached, cube_key, load_cached_cube, save_cube

        parts = {
            "site": site.geometry.wkt,
            "config": {k: v for k, v in config.as_dict().items() if k not in ("breaks", "min_area_m2")},
            "inputs": [p.fingerprint() for p in planned],
        }
        path = Path(cache_dir) / f"{cube_key(parts)}.zarr"
        cache.update(path=str(path), hit=cached(path))
        if cache["hit"]:
            with timed_stage("Reading the cleaned cube from the cache", reporter, timings):
                cube = load_cached_cube(path)
        else:
            cube = _clean_cube(site, config, planned, reporter, timings)
            with timed_stage("Caching the cleaned cube (Zarr)", reporter, timings):
                save_cube(cube, path)
    else:
        cube = _clean_cube(site, config, planned, reporter, timings)
    if len(cube) < 2 * config.breaks.min_obs:
        raise InputError(
            f"only {len(cube)} usable scene(s) between {config.start} and {config.end}; dating needs at least "
            f"{2 * config.breaks.min_obs}: widen the period or the cloud limit"
        )
    bands = detection_bands(cube.bands, exclude_atmospheric=True)
    values = cube.data.sel(band=bands).values  # (T, B, y, x)
    t, b, h, w = values.shape
    with timed_stage(f"Dating breaks in {h * w:,} pixel series of {t} looks", reporter, timings):
        breaks = detect_breaks(values.reshape(t, b, h * w), config.breaks)
    pixel_area = abs(cube.geobox.resolution.x * cube.geobox.resolution.y)
    mask = clean_mask(breaks.changed.reshape(h, w), pixel_area, min_area_m2=config.min_area_m2)
    magnitude = breaks.magnitude.reshape(h, w)
    coords = {k: v for k, v in cube.data.coords.items() if k in ("y", "x", "spatial_ref")}
    before = breaks.before_mean.reshape(b, h, w)
    after = before + np.nan_to_num(breaks.shift.reshape(b, h, w))
    pair = ImagePair(
        xr.DataArray(before, dims=("band", "y", "x"), coords={"band": bands, **coords}),
        xr.DataArray(after, dims=("band", "y", "x"), coords={"band": bands, **coords}),
        (),  # type: ignore[arg-type]  # a series has no single before/after file
        cube.geobox,
        site,
        cube.site_mask,
    )
    result = ChangeResult(
        score=xr.DataArray(magnitude, dims=("y", "x"), coords=coords),
        mask=xr.DataArray(mask, dims=("y", "x"), coords=coords),
        threshold=config.breaks.min_magnitude,
        config=DetectorConfig(method="timeseries", threshold="fixed", threshold_value=config.breaks.min_magnitude),
        bands=bands,
    )
    with timed_stage("Turning changed regions into dated events", reporter, timings):
        events = extract_events(result, pair, dates=(None, None), sources={})
        labels, _ = ndimage.label(mask, structure=EIGHT_CONNECTED)  # the labelling extract_events used
        events = date_events(events, breaks, labels, cube)
    return MonitorRun(site, config, cube, breaks, mask, labels, events, timings, cache)


def write_monitor_outputs(run: MonitorRun, out: str | Path, reporter: StageReporter | None = None) -> dict[str, Path]:
    """summary.json, events (GeoJSON/GPKG/KML) and report.html, written together or not at all."""
    from sitewatch.report.monitor import render_monitor_report

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=out))
    try:
        summary = run.summary()
        (staging / "summary.json").write_text(json.dumps(summary, indent=1))
        write_events(run.events, staging, metadata={"site": summary["site"], "parameters": summary["parameters"]})
        with timed_stage("Rendering report", reporter, run.timings_s):
            (staging / "report.html").write_text(render_monitor_report(run), encoding="utf-8")
        written = {}
        for path in sorted(staging.iterdir()):
            target = out / path.name
            path.replace(target)
            written[path.name] = target
        return written
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def parse_day(text: str, option: str) -> str:
    try:
        return date.fromisoformat(text).isoformat()
    except ValueError as exc:
        raise InputError(f"{option} '{text}' is not a date; use YYYY-MM-DD") from exc
