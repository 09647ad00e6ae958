"""The grid a site is analysed on: its UTM zone, at the finest native resolution.

Both dates are warped onto one grid so that pixels line up by georeference, not by array
index (OSCD pairs differ by a few pixels in size; commercial images never share a grid).
"""

from __future__ import annotations

import math
import os

import rasterio
from odc.geo.geobox import GeoBox
from odc.geo.geom import Geometry

from sitewatch.base.defaults import DEFAULT_MARGIN_M
from sitewatch.base.errors import InputError
from sitewatch.sites import Site

#: Copies of the cube a job holds at its peak (the looks read, reprojection buffers, the
#: stacked cube and the arrays the detectors derive from it), measured on the jobs' stages.
WORKING_COPIES = 4
#: The largest margin, metres: context for the statistics, not a second site.
MAX_MARGIN_M = 50_000.0


def default_memory_budget() -> int:
    """Bytes a job may plan for: half of this machine's memory (SITEWATCH_MAX_MEMORY_GB overrides)."""
    override = os.environ.get("SITEWATCH_MAX_MEMORY_GB")
    if override:
        return int(float(override) * 2**30)
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 2
    except (ValueError, OSError, AttributeError):  # not POSIX: assume 8 GiB
        return 4 * 2**30


def check_grid_memory(geobox: GeoBox, looks: int, bands: int, max_bytes: int | None, what: str) -> None:
    """Refuse a grid whose cube would not fit the budget, before anything is allocated.

    A 0.5 m grid on a city-sized site, or a 10,000 km margin, would otherwise run for
    minutes and die out of memory; the message says what to change.
    """
    budget = default_memory_budget() if max_bytes is None else max_bytes
    height, width = geobox.shape.yx
    needed = WORKING_COPIES * looks * bands * height * width * 4  # float32
    if needed > budget:
        resolution = abs(float(geobox.resolution.x))
        raise InputError(
            f"{what}: a {height:,} x {width:,} px grid at {resolution:g} m with {looks} look(s) of {bands} band(s) "
            f"needs about {needed / 2**30:,.1f} GiB, more than the {budget / 2**30:,.1f} GiB allowed; use a coarser "
            "--resolution, a smaller --margin or site, or raise --max-memory"
        )


#: Pixels outside the site polygon kept for context and for image statistics.
_STANDARD_RESOLUTIONS = (0.3, 0.5, 0.6, 1.0, 1.5, 2.0, 3.0, 4.0, 5.0, 10.0, 15.0, 20.0, 30.0, 60.0)


def snap_resolution(resolution_m: float, tolerance: float = 0.1) -> float:
    """Round a measured pixel size to the sensor's nominal one when it is within 10%.

    Imagery resampled into degrees (OSCD) measures 9.5-10.4 m for a 10 m sensor; a 9.95 m
    grid would help nobody.
    """
    for standard in _STANDARD_RESOLUTIONS:
        if abs(resolution_m - standard) <= tolerance * standard:
            return standard
    return round(resolution_m, 2)


def site_geobox(site: Site, resolution_m: float, margin_m: float = DEFAULT_MARGIN_M) -> GeoBox:
    """A north-up grid in the site's UTM zone covering the polygon plus `margin_m`."""
    if not math.isfinite(resolution_m) or resolution_m <= 0:
        raise InputError(f"--resolution must be a positive number of metres, not {resolution_m}")
    if not math.isfinite(margin_m) or not 0 <= margin_m <= MAX_MARGIN_M:
        raise InputError(f"--margin must be between 0 and {MAX_MARGIN_M:,.0f} metres, not {margin_m}")
    utm = site.utm_crs
    footprint = Geometry(site.geometry_in(utm), utm).buffer(max(margin_m, resolution_m))
    return GeoBox.from_geopolygon(footprint, resolution=resolution_m, crs=utm)


def geobox_of(path: str) -> GeoBox:
    """The grid of an existing raster (used to score against a label on that grid)."""
    with rasterio.open(path) as src:
        return GeoBox((src.height, src.width), src.transform, src.crs)
