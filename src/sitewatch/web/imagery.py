"""Imagery for the workbench: map tiles and event chips from the looks a run kept.

Tiles are 256 x 256 PNG in Web Mercator (rio-tiler reprojects the run's UTM COG); chips
show one event in one look with the event's outline drawn, not filled, so what lies under
it stays visible.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import numpy as np
import rasterio
import shapely
from PIL import Image, ImageDraw
from pyproj import Transformer
from rasterio.crs import CRS
from rio_tiler.errors import TileOutsideBounds
from rio_tiler.io import Reader

from sitewatch.base.errors import InputError
from sitewatch.report.looks import chip_window, read_manifest, run_looks_dir

TILE_SIZE = 256
CHIP_SIZE = 256
WGS84 = CRS.from_epsg(4326)
OUTLINE = (255, 214, 0)  # yellow: visible on dark roofs, fields and water alike


class LooksNotKept(LookupError):
    """The run kept no looks (stored before the workbench existed, or by a run without a looks folder)."""


def run_manifest(looks_dir: Path, site_id: str, run_id: int) -> dict[str, Any]:
    try:
        folder = run_looks_dir(looks_dir, site_id, run_id)
    except InputError as exc:
        raise LooksNotKept(str(exc)) from exc
    manifest = read_manifest(folder)
    if manifest is None:
        raise LooksNotKept(f"run {run_id} of {site_id} kept no looks")
    manifest["folder"] = folder
    return manifest


def look_path(manifest: dict[str, Any], index: int) -> Path:
    looks = manifest["looks"]
    if not 0 <= index < len(looks):
        raise LooksNotKept(f"no look {index} (the run kept {len(looks)})")
    return Path(manifest["folder"]) / looks[index]["file"]


def _transparent_png(size: int) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGBA", (size, size), (0, 0, 0, 0)).save(buffer, format="PNG")
    return buffer.getvalue()


_EMPTY = _transparent_png(TILE_SIZE)


#: GDAL settings for reading the looks: no listing of the folder for side-car files on open.
READ_ENV = {"GDAL_DISABLE_READDIR_ON_OPEN": "EMPTY_DIR"}


def tile_png(path: Path, z: int, x: int, y: int) -> bytes:
    """One Web Mercator tile of a look (transparent outside it).

    PNG at zlib level 1: tiles travel to a browser on the same machine or network, where
    encoding time counts more than a few KB.
    """
    with rasterio.Env(**READ_ENV), Reader(str(path)) as cog:
        try:
            image = cog.tile(x, y, z, tilesize=TILE_SIZE)
        except TileOutsideBounds:
            return _EMPTY
    return image.render(img_format="PNG", zlevel=1)


def chip_png(path: Path, outline: shapely.Geometry) -> bytes:
    """The look around `outline` (WGS84) with the outline drawn in yellow."""
    window = chip_window(outline)
    with rasterio.Env(**READ_ENV), Reader(str(path)) as cog:
        crs = cog.crs
        image = cog.part(window, bounds_crs=WGS84, dst_crs=crs, max_size=CHIP_SIZE)
    rgb = image.data_as_image()  # (y, x, 3)
    picture = Image.fromarray(np.ascontiguousarray(rgb[..., :3]).astype("uint8"))
    scale = CHIP_SIZE / max(picture.size)
    if scale > 1:  # small events: whole pixels made bigger (nearest), never smoothed into detail that is not there
        size = (round(picture.width * scale), round(picture.height * scale))
        picture = picture.resize(size, Image.Resampling.NEAREST)
    west, south, east, north = image.bounds
    to_grid = Transformer.from_crs(WGS84, crs, always_xy=True)
    draw = ImageDraw.Draw(picture)
    polygons = getattr(outline, "geoms", [outline])
    for polygon in polygons:
        for ring in [polygon.exterior, *polygon.interiors]:
            xs, ys = to_grid.transform(*np.asarray(ring.coords).T)
            px = (np.asarray(xs) - west) / (east - west) * picture.width
            py = (north - np.asarray(ys)) / (north - south) * picture.height
            draw.line(list(zip(px.tolist(), py.tolist(), strict=True)), fill=OUTLINE, width=2)
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG")
    return buffer.getvalue()
