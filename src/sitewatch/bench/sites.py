"""Detection judged per site: did each facility-sized site change, by how many m², and would a
whole-city run have said the same?

Each placed site (`sitewatch.bench.site_layout`) runs as the two-date job runs it: read with
the default margin and the fixed noise context, detected, cropped to site plus margin. Then:

* verdict: the site is flagged when at least `FLAG_M2` of its polygon is flagged (the
  minimum mapping unit); positives are sites placed on labelled change;
* area error: |flagged m² - labelled change m²| / labelled change m², inside each positive
  polygon (the label reprojected to the site grid, nearest neighbour);
* agreement: IoU of the flagged pixels inside the polygon between the per-site run and a
  run on the whole city image, read as one site on the same UTM grid (so the site grid is a
  window of the city grid and only the crop differs); a site where both flag nothing
  agrees fully.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from odc.geo.geobox import GeoBox
from rasterio.warp import Resampling, reproject
from shapely.geometry import box

from sitewatch import __version__
from sitewatch.base.defaults import DEFAULT_MARGIN_M, DEFAULT_MIN_AREA_M2
from sitewatch.base.geo import WGS84, reproject_geometry
from sitewatch.bench.datasets import Scene
from sitewatch.bench.metrics import Counts
from sitewatch.bench.site_layout import TestSite, place_sites
from sitewatch.detect import DetectorConfig, detect
from sitewatch.imagery import load_pair
from sitewatch.imagery.align import crop_to_margin, load_pair_in_context
from sitewatch.sites import Site

#: Every run is on a 10 m grid (OSCD's bands are 10-60 m), so site grids are windows of the city grid.
CITY_RESOLUTION_M = 10.0
#: A site is flagged when this much of its polygon is flagged: the minimum mapping unit.
FLAG_M2 = DEFAULT_MIN_AREA_M2


@dataclass
class SiteOutcome:
    """What one site run found, against the label and against the whole-city run."""

    site: str
    city: str
    changed: bool
    flagged: bool
    site_m2: float
    labelled_m2: float
    flagged_m2: float
    agreement_iou: float
    method: str

    @property
    def area_error(self) -> float | None:
        """Relative error of the flagged area on a positive site (None on negatives)."""
        if not self.changed or self.labelled_m2 <= 0:
            return None
        return abs(self.flagged_m2 - self.labelled_m2) / self.labelled_m2


@dataclass
class SitesResult:
    """Every site's outcome for one detector, and the pooled figures."""

    config: DetectorConfig
    data_dir: str
    sites: list[SiteOutcome] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def counts(self) -> Counts:
        """Sites as a confusion matrix: TP = positive flagged, FP = negative flagged..."""
        out = Counts()
        for s in self.sites:
            out += Counts(
                tp=int(s.changed and s.flagged),
                fp=int(not s.changed and s.flagged),
                fn=int(s.changed and not s.flagged),
                tn=int(not s.changed and not s.flagged),
            )
        return out

    def by_city(self) -> dict[str, SitesResult]:
        """The same result split by city, in the order the cities ran."""
        out: dict[str, SitesResult] = {}
        for outcome in self.sites:
            out.setdefault(outcome.city, SitesResult(self.config, self.data_dir)).sites.append(outcome)
        return out

    def area_errors(self) -> np.ndarray:
        return np.array([e for s in self.sites if (e := s.area_error) is not None], dtype=float)

    def summary(self) -> dict[str, Any]:
        counts, errors = self.counts, self.area_errors()
        agreement = np.array([s.agreement_iou for s in self.sites], dtype=float)
        return {
            "sites": len(self.sites),
            "positives": sum(s.changed for s in self.sites),
            "precision": round(counts.precision, 4),
            "recall": round(counts.recall, 4),
            "f1": round(counts.f1, 4),
            "area_error_median": round(float(np.median(errors)), 4) if errors.size else None,
            "area_error_p90": round(float(np.percentile(errors, 90)), 4) if errors.size else None,
            "agreement_iou_mean": round(float(agreement.mean()), 4) if agreement.size else None,
            "methods": sorted({s.method for s in self.sites}),
        }

    def as_dict(self) -> dict[str, Any]:
        return {
            "dataset": "OSCD sites",
            "data_dir": self.data_dir,
            "sitewatch_version": __version__,
            "parameters": self.config.as_dict(),
            "summary": self.summary(),
            "seconds": round(self.seconds, 1),
            "sites": [
                {**s.__dict__, "area_error": None if s.area_error is None else round(s.area_error, 4)}
                for s in self.sites
            ],
        }


def _onto(values: np.ndarray, source: GeoBox, target: GeoBox) -> np.ndarray:
    """A boolean raster on `source` resampled onto `target` by nearest neighbour (False outside)."""
    out = np.zeros(target.shape.yx, dtype="uint8")
    reproject(
        values.astype("uint8"),
        out,
        src_transform=source.affine,
        src_crs=source.crs.to_wkt(),
        dst_transform=target.affine,
        dst_crs=target.crs.to_wkt(),
        resampling=Resampling.nearest,
        src_nodata=None,
        dst_nodata=None,
    )
    return out.astype(bool)


def city_run(scene: Scene, config: DetectorConfig) -> tuple[np.ndarray, GeoBox]:
    """The detector's mask over the whole city image, read as one site (its footprint) on a UTM grid."""
    footprint = reproject_geometry(box(*scene.geobox.boundingbox), scene.geobox.crs, WGS84)
    city = Site(id=scene.name, name=scene.name, geometry=footprint)
    cube = load_pair(scene.before, scene.after, city, resolution_m=CITY_RESOLUTION_M, margin_m=0.0)
    return detect(cube.before, cube.after, config, cube.pixel_area_m2).mask.values, cube.geobox


def run_site(
    test: TestSite,
    scene: Scene,
    config: DetectorConfig,
    city: tuple[np.ndarray, GeoBox],
    margin_m: float = DEFAULT_MARGIN_M,
) -> SiteOutcome:
    """Run one site as the two-date job does and compare it with the label and the city-wide mask."""
    context = load_pair_in_context(
        scene.before, scene.after, test.site, resolution_m=CITY_RESOLUTION_M, margin_m=margin_m
    )
    result = detect(context.before, context.after, config, context.pixel_area_m2)
    cube, (rows, cols), keep = crop_to_margin(context, margin_m)
    flagged = result.window(rows, cols, keep).mask.values & cube.site_mask
    label = _onto(scene.changed, scene.geobox, cube.geobox) & cube.site_mask
    city_flagged = _onto(city[0], city[1], cube.geobox) & cube.site_mask
    union = int((flagged | city_flagged).sum())
    pixel = cube.pixel_area_m2
    flagged_m2 = float(flagged.sum()) * pixel
    return SiteOutcome(
        site=test.site.id,
        city=test.city,
        changed=test.changed,
        flagged=flagged_m2 >= FLAG_M2,
        site_m2=round(float(cube.site_mask.sum()) * pixel, 1),
        labelled_m2=round(float(label.sum()) * pixel, 1),
        flagged_m2=round(flagged_m2, 1),
        agreement_iou=1.0 if union == 0 else float((flagged & city_flagged).sum()) / union,
        method=result.method,
    )


def run_sites_benchmark(
    data_dir: str,
    scenes: Iterable[Scene],
    config: DetectorConfig,
    *,
    per_city: int = 12,
    config_for: Callable[[str], DetectorConfig] | None = None,
    on_site: Callable[[str, int, int], None] | None = None,
) -> SitesResult:
    """Place sites on every scene and run each; `config_for` gives a city its own model (LOCO folds)."""
    result = SitesResult(config, data_dir)
    start = time.perf_counter()
    for scene in scenes:
        city_config = config_for(scene.name) if config_for else config
        city = city_run(scene, city_config)
        placed = place_sites(scene.name, scene.changed, scene.geobox, per_city=per_city)
        for index, test in enumerate(placed):
            result.sites.append(run_site(test, scene, city_config, city))
            if on_site is not None:
                on_site(scene.name, index + 1, len(placed))
    result.seconds = time.perf_counter() - start
    return result
