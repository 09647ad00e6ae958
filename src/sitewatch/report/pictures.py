"""Pictures for briefs and reports: a look around an event with its outline, a scale bar and a north
arrow; the site's map with every event outlined. PNG bytes, drawn with Pillow.

The looks are in Web Mercator (north up), so the arrow always points up; distances on the
scale bar are ground metres at the picture's latitude.
"""

from __future__ import annotations

import io
import math
from pathlib import Path

import numpy as np
import rasterio
import shapely
from PIL import Image, ImageDraw, ImageFont
from pyproj import Transformer

OUTLINE = (255, 214, 0)
SITE = (79, 195, 247)
NICE_METRES = (10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000)


def _font(size: int) -> ImageFont.ImageFont:
    return ImageFont.load_default(size=size)


def _to_pixels(src: rasterio.DatasetReader, scale: float):
    to_grid = Transformer.from_crs("EPSG:4326", src.crs, always_xy=True)
    inverse = ~src.transform

    def project(coords: np.ndarray) -> list[tuple[float, float]]:
        xs, ys = to_grid.transform(coords[:, 0], coords[:, 1])
        cols, rows = inverse * (np.asarray(xs), np.asarray(ys))
        return list(zip((np.asarray(cols) * scale).tolist(), (np.asarray(rows) * scale).tolist(), strict=True))

    return project


def _draw_outline(draw: ImageDraw.ImageDraw, geometry: shapely.Geometry, project, colour, width: int) -> None:
    for polygon in getattr(geometry, "geoms", [geometry]):
        for ring in [polygon.exterior, *polygon.interiors]:
            draw.line(project(np.asarray(ring.coords)), fill=colour, width=width, joint="curve")


def _scale_bar(draw: ImageDraw.ImageDraw, size: tuple[int, int], metres_per_px: float) -> None:
    width, height = size
    target = width * 0.25 * metres_per_px
    metres = max((m for m in NICE_METRES if m <= target), default=NICE_METRES[0])
    length = metres / metres_per_px
    x0, y0 = 12, height - 18
    draw.rectangle([x0 - 4, y0 - 20, x0 + length + 4, y0 + 8], fill=(255, 255, 255))
    draw.rectangle([x0, y0, x0 + length, y0 + 4], fill=(0, 0, 0))
    label = f"{metres:,} m" if metres < 1000 else f"{metres / 1000:g} km"
    draw.text((x0, y0 - 18), label, fill=(0, 0, 0), font=_font(13))


def _north_arrow(draw: ImageDraw.ImageDraw, size: tuple[int, int]) -> None:
    x, y = size[0] - 26, 12
    draw.rectangle([x - 12, y - 4, x + 12, y + 40], fill=(255, 255, 255))
    draw.polygon([(x, y), (x - 8, y + 18), (x + 8, y + 18)], fill=(0, 0, 0))
    draw.text((x - 5, y + 20), "N", fill=(0, 0, 0), font=_font(14))


def _png(picture: Image.Image) -> bytes:
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()


def _rgb(src: rasterio.DatasetReader) -> Image.Image:
    return Image.fromarray(np.moveaxis(src.read([1, 2, 3]), 0, -1))


def event_picture(chip: Path, outline: shapely.Geometry, ground_m: float, min_side: int = 360) -> bytes:
    """One look around an event at full resolution (whole pixels enlarged), outlined, with scale and north."""
    with rasterio.open(chip) as src:
        picture = _rgb(src)
        scale = max(1, math.ceil(min_side / max(picture.size)))
        picture = picture.resize((picture.width * scale, picture.height * scale), Image.Resampling.NEAREST)
        draw = ImageDraw.Draw(picture)
        _draw_outline(draw, outline, _to_pixels(src, scale), OUTLINE, 2)
    _scale_bar(draw, picture.size, ground_m / scale)
    _north_arrow(draw, picture.size)
    return _png(picture)


def site_picture(
    look: Path, site: shapely.Geometry, events: list[tuple[str, shapely.Geometry]], ground_m: float, side: int = 700
) -> bytes:
    """The site on a look, every event outlined and labelled."""
    with rasterio.open(look) as src:
        picture = _rgb(src)
        scale = side / max(picture.size)
        picture = picture.resize(
            (round(picture.width * scale), round(picture.height * scale)), Image.Resampling.LANCZOS
        )
        draw = ImageDraw.Draw(picture)
        project = _to_pixels(src, scale)
        _draw_outline(draw, site, project, SITE, 2)
        for label, outline in events:
            _draw_outline(draw, outline, project, OUTLINE, 2)
            x, y = project(np.asarray([[outline.centroid.x, outline.centroid.y]]))[0]
            draw.text((x + 6, y - 6), label, fill=OUTLINE, font=_font(13), stroke_width=2, stroke_fill=(0, 0, 0))
    _scale_bar(draw, picture.size, ground_m / scale)
    _north_arrow(draw, picture.size)
    return _png(picture)
