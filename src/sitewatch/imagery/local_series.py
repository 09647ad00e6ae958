"""A folder of the analyst's own scenes as a time series.

Each raster file directly in the folder is one scene (a multiband GeoTIFF/COG), and each
sub-folder of per-band files is one scene (as Sentinel-2 and OSCD ship them). Dates come
from metadata or names, as for a pair; a scene whose date cannot be found is refused by
name, since an undated scene cannot date a change.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path

import numpy as np
from odc.geo.geobox import GeoBox
from rasterio.errors import RasterioError

from sitewatch.base.cores import usable_cores
from sitewatch.base.errors import InputError
from sitewatch.imagery.cube import SceneCube, SceneInfo, cube_array
from sitewatch.imagery.local import RASTER_SUFFIXES, ImageSource, load_image, open_image

#: Scenes read at once (threads); more than the cores rarely helps, and each holds one scene.
READ_THREADS = 4


def scene_paths(folder: Path) -> list[Path]:
    """The scenes in a folder: raster files and sub-folders that hold raster files."""
    if not folder.is_dir():
        raise InputError(f"{folder}: not a folder of scenes; point --source at a folder of GeoTIFFs")

    def is_raster(path: Path) -> bool:
        return path.is_file() and path.suffix.lower() in RASTER_SUFFIXES

    paths = [e for e in sorted(folder.iterdir()) if is_raster(e) or (e.is_dir() and any(map(is_raster, e.iterdir())))]
    if not paths:
        raise InputError(f"{folder}: no GeoTIFF/COG scenes (files, or folders of per-band files) found")
    return paths


def open_series(folder: Path, band_names: list[str] | None = None) -> list[ImageSource]:
    """Describe every scene of a folder; all must be dated."""
    sources = [open_image(p, band_names=band_names if p.is_file() else None) for p in scene_paths(folder)]
    undated = [str(s.path) for s in sources if s.time.value is None]
    if undated:
        raise InputError(
            f"{len(undated)} scene(s) have no acquisition date in metadata or name, e.g. {undated[0]}; "
            "put the date in the name (e.g. scene_2021-06-30.tif)"
        )
    return sorted(sources, key=lambda s: s.time.value)


def load_series(
    sources: list[ImageSource],
    geobox: GeoBox,
    site_mask: np.ndarray,
    *,
    on_scene: Callable[[int, int, str], None] | None = None,
) -> SceneCube:
    """Read every scene onto `geobox`, bands the scenes have in common.

    A scene that cannot be read (truncated, corrupt) is dropped with a note naming the
    file, and the others go on; when none can be read, the first problem is the error.
    """
    keys = [b.key for b in sources[0].bands if all(b.key in {x.key for x in s.bands} for s in sources[1:])]
    if not keys:
        raise InputError(f"the scenes in {sources[0].path.parent} share no band; name them with --bands")
    height, width = geobox.shape.yx
    cube = np.empty((len(sources), len(keys), height, width), dtype="float32")  # filled in place, never stacked
    infos = [SceneInfo.from_image(source, keys) for source in sources]
    readable = np.ones(len(sources), dtype=bool)

    def read(index: int) -> None:
        try:
            load_image(sources[index], geobox, keys, out=cube[index])
        except (InputError, RasterioError, OSError) as exc:
            infos[index].notes.append(f"dropped: could not be read ({' '.join(str(exc).split())[:200]})")
            readable[index] = False

    # GDAL decodes and warps outside the GIL: scenes are read side by side, one per core.
    with ThreadPoolExecutor(max_workers=max(1, min(READ_THREADS, usable_cores()))) as pool:
        futures = [pool.submit(read, index) for index in range(len(sources))]
        for done, future in enumerate(as_completed(futures), start=1):
            future.result()
            if on_scene is not None:
                on_scene(done, len(sources), sources[futures.index(future)].path.name)
    if not readable.any():
        raise InputError(f"none of the {len(sources)} scenes could be read; first problem: {infos[0].notes[-1]}")
    if not readable.all():
        cube = cube[readable]
    scenes = [info for info, ok in zip(infos, readable, strict=True) if ok]
    dropped = [info for info, ok in zip(infos, readable, strict=True) if not ok]
    times = [source.time.value for source, ok in zip(sources, readable, strict=True) if ok]
    return SceneCube(cube_array(cube, times, keys, geobox), scenes, geobox, site_mask, dropped)
