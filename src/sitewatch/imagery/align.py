"""Put two images of a site on one grid, band for band: a cube of two looks, the input of every detector."""

from __future__ import annotations

import os

import numpy as np
from odc.geo.geobox import GeoBox
from rasterio.features import geometry_mask
from shapely.geometry import box

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
