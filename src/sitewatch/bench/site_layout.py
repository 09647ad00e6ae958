"""Facility-sized test sites placed on a labelled city: on labelled change, and on land without any.

Analysts ask "did this site change?", so detection is also judged site by site
(`sitewatch.bench.sites`). The sites are made from the labels alone, the same way in every
city, with a seeded random generator so every run places the same ones:

* positives: each connected region of labelled change (after closing gaps of two pixels)
  of at least `MIN_CHANGE_M2`, boxed with `PAD_M` around it, the box grown to a square of
  at least `MIN_SITE_M2` when smaller; boxes over `MAX_SITE_M2` are left out, and so is a
  region whose centre already lies in an earlier site;
* negatives: squares of a random size between `MIN_SITE_M2` and `MAX_NEGATIVE_M2`, placed at
  random where neither the square nor `CLEAR_M` around it holds a labelled change pixel.
  They fall on whatever the city holds: fields, water, coast, roofs, roads.

At most `per_city` of each, so that large cities do not outweigh the others.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from odc.geo.geobox import GeoBox
from scipy import ndimage
from shapely.geometry import Polygon, box

from sitewatch.base.geo import WGS84, reproject_geometry
from sitewatch.sites import Site

MIN_SITE_M2 = 50_000.0  # 0.05 km²
MAX_SITE_M2 = 2_000_000.0  # 2 km²
MAX_NEGATIVE_M2 = 1_000_000.0
MIN_CHANGE_M2 = 2_000.0
PAD_M = 30.0
CLEAR_M = 100.0


@dataclass(frozen=True)
class TestSite:
    """One placed site: its polygon and what the label says about it."""

    site: Site
    city: str
    changed: bool  # placed on labelled change (positive) or on land without any (negative)


def _pixel_m(geobox: GeoBox) -> float:
    """The grid's pixel side in metres (degrees converted at the grid's centre)."""
    res = abs(float(geobox.resolution.x))
    if not geobox.crs.geographic:
        return res
    latitude = float(geobox.extent.centroid.coords[0][1])
    return res * 111_320.0 * math.cos(math.radians(latitude))


def _site(geobox: GeoBox, city: str, kind: str, index: int, rows: tuple[int, int], cols: tuple[int, int]) -> Site:
    x0, y0 = geobox.affine * (cols[0], rows[0])
    x1, y1 = geobox.affine * (cols[1], rows[1])
    polygon: Polygon = box(min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1))
    if not geobox.crs.geographic:
        polygon = reproject_geometry(polygon, geobox.crs, WGS84)
    name = f"{city}-{kind}-{index:02d}"
    return Site(id=name, name=name, geometry=polygon, tags=["bench", kind])


def _square(centre: float, side: int, limit: int) -> tuple[int, int]:
    start = round(centre - side / 2)
    start = min(max(start, 0), max(limit - side, 0))
    return start, min(start + side, limit)


def place_sites(city: str, changed: np.ndarray, geobox: GeoBox, per_city: int = 12, seed: int = 0) -> list[TestSite]:
    """Positive and negative sites for one city from its change label (True = change) on `geobox`."""
    pixel = _pixel_m(geobox)
    height, width = changed.shape
    rng = np.random.default_rng([seed, *city.encode()])
    min_side = math.ceil(math.sqrt(MIN_SITE_M2) / pixel)
    pad = math.ceil(PAD_M / pixel)
    regions, count = ndimage.label(ndimage.binary_closing(changed, iterations=2), structure=np.ones((3, 3)))
    boxes = ndimage.find_objects(regions)
    sizes = ndimage.sum_labels(changed, regions, index=np.arange(1, count + 1))
    candidates = [i for i in range(count) if sizes[i] * pixel**2 >= MIN_CHANGE_M2]
    rng.shuffle(candidates)
    taken: list[tuple[int, int, int, int]] = []
    sites: list[TestSite] = []
    for i in candidates:
        rows, cols = boxes[i]
        centre = ((rows.start + rows.stop) / 2, (cols.start + cols.stop) / 2)
        if any(r0 <= centre[0] < r1 and c0 <= centre[1] < c1 for r0, r1, c0, c1 in taken):
            continue
        side_r = max(rows.stop - rows.start + 2 * pad, min_side)
        side_c = max(cols.stop - cols.start + 2 * pad, min_side)
        if side_r * side_c * pixel**2 > MAX_SITE_M2:
            continue
        r = _square(centre[0], side_r, height)
        c = _square(centre[1], side_c, width)
        taken.append((*r, *c))
        sites.append(TestSite(_site(geobox, city, "change", len(sites), r, c), city, True))
        if len(sites) == per_city:
            break
    positives = len(sites)
    clear = math.ceil(CLEAR_M / pixel)
    near_change = ndimage.binary_dilation(changed, iterations=clear) if changed.any() else changed
    # integral image: changed pixels in any window in O(1)
    integral = np.pad(near_change.astype(np.int64).cumsum(0).cumsum(1), ((1, 0), (1, 0)))
    max_side = math.floor(math.sqrt(MAX_NEGATIVE_M2) / pixel)
    negatives = 0
    for _ in range(200 * max(positives, 1)):
        if negatives == positives:
            break
        side = int(rng.integers(min_side, max_side + 1))
        if side >= min(height, width):
            continue
        r0 = int(rng.integers(0, height - side))
        c0 = int(rng.integers(0, width - side))
        hits = integral[r0 + side, c0 + side] - integral[r0, c0 + side] - integral[r0 + side, c0] + integral[r0, c0]
        overlaps = any(r0 < r1 and a < r0 + side and c0 < c1 and b < c0 + side for a, r1, b, c1 in taken)
        if hits or overlaps:
            continue
        taken.append((r0, r0 + side, c0, c0 + side))
        sites.append(
            TestSite(_site(geobox, city, "unchanged", negatives, (r0, r0 + side), (c0, c0 + side)), city, False)
        )
        negatives += 1
    return sites
