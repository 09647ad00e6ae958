"""Change regions as events: polygons with area in m², score, dates, kind and sources.

Each 8-connected region of the change mask becomes one event. Areas are measured on the
polygon in the site's UTM zone (never in degrees); the pixel count times the pixel area is
kept beside it as a check.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import shapely
from rasterio.features import shapes
from scipy import ndimage
from shapely.geometry import MultiPolygon, Polygon, shape

from sitewatch.base.geo import WGS84, transformer, utm_crs_for
from sitewatch.events.kind import classify, spectral_evidence
from sitewatch.imagery.cube import SceneCube

EIGHT_CONNECTED = np.ones((3, 3), dtype=bool)


@dataclass
class Event:
    """One change region."""

    id: str
    geometry: Polygon | MultiPolygon  # WGS84
    area_m2: float  # the whole region, margin included
    pixel_count: int
    mean_score: float
    max_score: float
    kind: str
    evidence: dict[str, float] = field(default_factory=dict)
    before_date: str | None = None  # last date seen unchanged (ISO 8601)
    after_date: str | None = None  # first date seen changed
    site_overlap: float = 1.0  # share of the event's area inside the site polygon
    sources: dict[str, Any] = field(default_factory=dict)
    confirmations: int | None = None  # valid looks after the break that show the change (series)
    region: int = 0  # label of the region on the change grid (internal)
    area_inside_m2: float | None = None  # the part inside the site polygon (None: no site, all of it)
    phase: str | None = None  # series: "earlier" / "later" for a break before / after a place's main one
    follows: str | None = None  # series: id of the event this one came after at the same place

    @property
    def inside_m2(self) -> float:
        """Area inside the site polygon: what totals, rules and alerts count."""
        return self.area_m2 if self.area_inside_m2 is None else self.area_inside_m2

    def properties(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind,
            "area_m2": round(self.area_m2, 1),
            "area_inside_site_m2": round(self.inside_m2, 1),
            "area_in_margin_m2": round(self.area_m2 - self.inside_m2, 1),
            "pixel_count": self.pixel_count,
            "mean_score": round(self.mean_score, 3),
            "max_score": round(self.max_score, 3),
            "before_date": self.before_date,
            "after_date": self.after_date,
            **({"confirmations": self.confirmations} if self.confirmations is not None else {}),
            **({"phase": self.phase} if self.phase else {}),
            **({"follows": self.follows} if self.follows else {}),
            "site_overlap": round(self.site_overlap, 3),
            "evidence": self.evidence,
            "sources": self.sources,
        }


def _region_polygons(labels: np.ndarray, cube: SceneCube) -> dict[int, Polygon | MultiPolygon]:
    pieces: dict[int, list[Polygon]] = {}
    for geom, value in shapes(labels.astype("int32"), mask=labels > 0, connectivity=8, transform=cube.geobox.affine):
        pieces.setdefault(int(value), []).append(shape(geom))
    polygons = {k: v[0] if len(v) == 1 else shapely.union_all(v) for k, v in pieces.items()}
    # Pixels joined only at a corner (8-connectivity) make rings that touch themselves,
    # which OGC calls invalid; make_valid splits them into a MultiPolygon of the same area.
    return {k: g if g.is_valid else shapely.make_valid(g) for k, g in polygons.items()}


def _band_means(image: np.ndarray, labels: np.ndarray, index: np.ndarray) -> np.ndarray:
    """(regions, bands) mean of each band in each region, ignoring NaN."""
    out = np.empty((len(index), image.shape[0]))
    for band in range(image.shape[0]):
        values = image[band]
        finite = np.isfinite(values)
        sums = ndimage.sum_labels(np.where(finite, values, 0.0), labels, index)
        counts = ndimage.sum_labels(finite, labels, index)
        with np.errstate(invalid="ignore", divide="ignore"):
            out[:, band] = sums / counts
    return out


def _scene_brightness_log_ratio(before: np.ndarray, after: np.ndarray, keys: list[str]) -> float:
    if not all(b in keys for b in ("blue", "green", "red")):
        return 0.0
    visible = [keys.index(b) for b in ("blue", "green", "red")]
    before = before[visible].mean(axis=0)
    after = after[visible].mean(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = np.log(after / before)
    ratio = ratio[np.isfinite(ratio)]
    return float(np.median(ratio)) if ratio.size else 0.0


def _geobox_centre_wgs84(cube: SceneCube) -> tuple[float, float]:
    x, y = cube.geobox.extent.centroid.coords[0]
    if not cube.geobox.crs.geographic:
        x, y = transformer(cube.geobox.crs, WGS84)(x, y)
    return float(x), float(y)


def extract_events(
    cube: SceneCube,
    mask: np.ndarray,
    score: np.ndarray,
    *,
    before: np.ndarray | None = None,
    after: np.ndarray | None = None,
    bands: list[str] | None = None,
) -> list[Event]:
    """Events for every change region of `mask` touching the site, largest first.

    `before` and `after` are the (band, y, x) states compared, named by `bands`: by default
    the cube's first and last looks and all its bands (two dates); a series passes the
    levels before and after each pixel's break. Dates and sources default to the first and
    last looks; a series dates each event afterwards (`sitewatch.events.dating`).
    """
    mask = np.asarray(mask, dtype=bool)
    labels, count = ndimage.label(mask, structure=EIGHT_CONNECTED)
    if count == 0:
        return []
    before = cube.before.values if before is None else before
    after = cube.after.values if after is None else after
    bands = cube.bands if bands is None else list(bands)
    index = np.arange(1, count + 1)
    score = np.asarray(score, dtype="float64")
    finite_score = np.where(np.isfinite(score), score, 0.0)
    pixel_counts = ndimage.sum_labels(mask, labels, index).astype(int)
    mean_scores = ndimage.sum_labels(finite_score, labels, index) / np.maximum(pixel_counts, 1)
    max_scores = ndimage.maximum(finite_score, labels, index)
    in_site = ndimage.sum_labels(cube.site_mask, labels, index)
    before_means = _band_means(before, labels, index)
    after_means = _band_means(after, labels, index)
    scene_ratio = _scene_brightness_log_ratio(before, after, bands)
    polygons = _region_polygons(labels, cube)
    grid_crs = cube.geobox.crs
    # Areas in metres: the grid itself when it is UTM, else the UTM zone of its centre.
    centre = _geobox_centre_wgs84(cube)
    area_crs = grid_crs if not grid_crs.geographic else utm_crs_for(*centre)
    site_metric = None if cube.site is None else cube.site.geometry_in(area_crs)
    dates = (cube.scenes[0].datetime or None, cube.scenes[-1].datetime or None)
    if cube.files:
        sources: dict[str, Any] = {"before": str(cube.files[0].path), "after": str(cube.files[-1].path)}
    else:
        sources = {"scenes": [s.id for s in cube.scenes]}
    to_wgs84 = None if grid_crs.geographic else transformer(grid_crs, WGS84)  # built once, not per event
    to_metric = None if area_crs is grid_crs else transformer(grid_crs, area_crs)
    events = []
    for i, label in enumerate(index):
        if in_site[i] == 0:
            continue  # change only in the margin around the site
        polygon = polygons[int(label)]
        wgs84 = polygon if to_wgs84 is None else shapely.transform(polygon, to_wgs84, interleaved=False)
        metric = polygon if to_metric is None else shapely.transform(polygon, to_metric, interleaved=False)
        area = float(metric.area)
        inside = None if site_metric is None else float(metric.intersection(site_metric).area)
        evidence = spectral_evidence(
            dict(zip(bands, before_means[i].tolist(), strict=True)),
            dict(zip(bands, after_means[i].tolist(), strict=True)),
            scene_ratio,
        )
        events.append(
            Event(
                id="",
                geometry=wgs84,
                area_m2=area,
                pixel_count=int(pixel_counts[i]),
                mean_score=float(mean_scores[i]),
                max_score=float(max_scores[i]),
                kind=classify(evidence),
                evidence=evidence,
                before_date=dates[0],
                after_date=dates[1],
                site_overlap=float(in_site[i] / pixel_counts[i]),
                sources=sources,
                region=int(label),
                area_inside_m2=inside,
            )
        )
    events.sort(key=lambda e: e.area_m2, reverse=True)
    for number, event in enumerate(events, start=1):
        event.id = f"E{number:04d}"
    return events
