"""Put two images of a site on one grid, band for band: a cube of two looks, the input of every detector."""

from __future__ import annotations

import os
from dataclasses import replace

import numpy as np
from odc.geo.geobox import GeoBox
from rasterio.features import geometry_mask
from shapely.geometry import box

from sitewatch.base.defaults import NOISE_CONTEXT_M
from sitewatch.base.errors import InputError
from sitewatch.base.geo import WGS84, reproject_geometry
from sitewatch.imagery.cube import SceneCube, SceneInfo, cube_array
from sitewatch.imagery.grid import DEFAULT_MARGIN_M, check_grid_memory, site_geobox, snap_resolution
from sitewatch.imagery.local import ImageSource, load_image, open_image
from sitewatch.sites import Site

#: Below this share of valid site pixels an image is refused as not covering the site.
MIN_SITE_COVERAGE = 0.01


def _as_source(image: str | os.PathLike[str] | ImageSource) -> ImageSource:
    return image if isinstance(image, ImageSource) else open_image(image)


def common_bands(before: ImageSource, after: ImageSource) -> list[str]:
    """Band keys present in both images, in the before image's order."""
    after_keys = {b.key for b in after.bands}
    keys = [b.key for b in before.bands if b.key in after_keys]
    if not keys:
        raise InputError(
            f"{before.path} and {after.path}: no band in common "
            f"({', '.join(b.key for b in before.bands)} vs {', '.join(b.key for b in after.bands)}); "
            "name the bands with --bands"
        )
    return keys


def load_pair(
    before: str | os.PathLike[str] | ImageSource,
    after: str | os.PathLike[str] | ImageSource,
    site: Site | None = None,
    *,
    geobox: GeoBox | None = None,
    resolution_m: float | None = None,
    margin_m: float = DEFAULT_MARGIN_M,
    max_memory_bytes: int | None = None,
) -> SceneCube:
    """Read both images onto the site's UTM grid (or onto `geobox` when given), as a cube of two looks."""
    sources = (_as_source(before), _as_source(after))
    keys = common_bands(*sources)
    if geobox is None:
        if site is None:
            raise ValueError("load_pair needs a site or an explicit geobox")
        if resolution_m is None:
            finest = min(b.resolution_m for s in sources for b in s.bands if b.key in keys)
            resolution_m = snap_resolution(finest)
        geobox = site_geobox(site, resolution_m, margin_m)
    area = site.geometry if site is not None else _geobox_wgs84(geobox)
    for source in sources:
        if not source.footprint_wgs84.intersects(area):
            raise InputError(
                f"{source.path}: the image does not overlap the site "
                f"(image covers lon/lat {_fmt_bounds(source.footprint_wgs84.bounds)}, site "
                f"{_fmt_bounds(area.bounds)}); check the image and the site file"
            )
    check_grid_memory(geobox, len(sources), len(keys), max_memory_bytes, str(sources[1].path))
    site_mask, keep_mask = site_masks(site, geobox, margin_m)
    arrays = []
    for source in sources:
        array = load_image(source, geobox, keys)
        array = array.where(keep_mask)
        coverage = float(np.isfinite(array.values).all(axis=0)[site_mask].mean())
        if coverage < MIN_SITE_COVERAGE:
            raise InputError(
                f"{source.path}: the image has no valid data over the site "
                f"({coverage:.0%} of site pixels); check the image covers the site"
            )
        if coverage < 0.5:
            source.warnings.append(f"covers only {coverage:.0%} of the site")
        arrays.append(array)
    scenes = [SceneInfo.from_image(source, keys) for source in sources]
    times = [s.time.value for s in sources]
    data = cube_array(np.stack([a.values for a in arrays]), times, keys, geobox)
    return SceneCube(data, scenes, geobox, site_mask, site=site, files=list(sources))


def load_pair_in_context(
    before: str | os.PathLike[str] | ImageSource,
    after: str | os.PathLike[str] | ImageSource,
    site: Site,
    *,
    resolution_m: float | None = None,
    margin_m: float = DEFAULT_MARGIN_M,
    context_m: float = NOISE_CONTEXT_M,
    max_memory_bytes: int | None = None,
) -> SceneCube:
    """`load_pair` over the site plus `max(margin_m, context_m)`: what a detector judges noise against.

    A change score in noise units (CVA, index differences) and the learned model's pair
    matching take their statistics from the pixels they are given; reading a fixed context
    makes a site's verdict the same whatever margin the analyst keeps. Crop the result to
    the margin with `crop_to_margin`.
    """
    return load_pair(
        before,
        after,
        site,
        resolution_m=resolution_m,
        margin_m=max(margin_m, context_m),
        max_memory_bytes=max_memory_bytes,
    )


def margin_window(context: GeoBox, site: Site, margin_m: float) -> tuple[GeoBox, tuple[slice, slice]]:
    """The site-plus-margin grid inside a context grid read for the same site, and its (rows, cols) slices.

    Both grids are snapped to whole pixels of the same resolution in the same UTM zone
    (`site_geobox`), so one is a window of the other.
    """
    resolution = abs(float(context.resolution.x))
    inner = site_geobox(site, resolution, margin_m)
    col, row = ~context.affine * (inner.affine.c, inner.affine.f)
    row0, col0 = round(row), round(col)
    height, width = inner.shape.yx
    if (
        inner.crs != context.crs
        or abs(row - row0) > 1e-6
        or abs(col - col0) > 1e-6
        or row0 < 0
        or col0 < 0
        or row0 + height > context.shape.y
        or col0 + width > context.shape.x
    ):
        raise ValueError("the margin grid is not a window of the context grid")
    return inner, (slice(row0, row0 + height), slice(col0, col0 + width))


def crop_to_margin(cube: SceneCube, margin_m: float) -> tuple[SceneCube, tuple[slice, slice], np.ndarray]:
    """The cube on the site-plus-`margin_m` grid (NaN beyond the margin), the window it came from, and
    the mask of the site plus margin on it."""
    if cube.site is None:
        raise ValueError("crop_to_margin needs a cube read for a site")
    inner, (rows, cols) = margin_window(cube.geobox, cube.site, margin_m)
    site_mask, keep_mask = site_masks(cube.site, inner, margin_m)
    data = cube.data.isel(y=rows, x=cols).where(keep_mask)
    return replace(cube, data=data, geobox=inner, site_mask=site_mask), (rows, cols), keep_mask


def site_masks(site: Site | None, geobox: GeoBox, margin_m: float) -> tuple[np.ndarray, np.ndarray]:
    """(inside the site, inside the site plus margin) on the grid."""
    shape = geobox.shape.yx
    if site is None:
        everything = np.ones(shape, dtype=bool)
        return everything, everything
    polygon = site.geometry_in(geobox.crs) if not geobox.crs.geographic else site.geometry
    margin = margin_m if not geobox.crs.geographic else margin_m / 111_000
    inside = geometry_mask([polygon], out_shape=shape, transform=geobox.affine, invert=True, all_touched=True)
    kept = geometry_mask(
        [polygon.buffer(margin)], out_shape=shape, transform=geobox.affine, invert=True, all_touched=True
    )
    return inside, kept


def _geobox_wgs84(geobox: GeoBox):
    return reproject_geometry(box(*geobox.boundingbox), geobox.crs, WGS84)


def _fmt_bounds(bounds: tuple[float, float, float, float]) -> str:
    return "[" + ", ".join(f"{v:.4f}" for v in bounds) + "]"
