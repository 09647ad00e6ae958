"""On-disk cache of cleaned cubes (Zarr), keyed by everything that went into them.

The key is a SHA-256 of the inputs (each STAC item's id, asset URLs and `updated` time;
each local file's path, size and modification time), the grid, the period and every
clean-up parameter, plus the sitewatch version. Searching a catalogue is cheap and is
always done; reading pixels is not, so when the key is already on disk nothing is read:
a re-run downloads and computes nothing new. A cube is written to a temporary folder and
renamed, so a killed run never leaves a half cube behind under a valid key.

The cube is stored one look per chunk with Blosc LZ4 and byte shuffle: it halves the size
of float32 reflectances and decompresses faster than the disk reads the uncompressed
bytes, so a warm run spends about a second per GiB of cube here (zstd halves it too but
takes twice as long each way). Looks are written and read straight from and into the
cube's own array: no second copy.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import zarr
from affine import Affine
from odc.geo.geobox import GeoBox
from zarr.codecs import BloscCodec, BloscShuffle

from sitewatch.imagery.cube import SceneCube, SceneInfo, cube_array

#: Bumped when the layout or the values change (3: STAC pixels on their declared scale and offset),
#: so that an older cache is recomputed rather than misread.
CACHE_FORMAT = 3
_COMPRESSOR = BloscCodec(cname="lz4", clevel=5, shuffle=BloscShuffle.shuffle)


def default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "sitewatch" / "cubes"


def _scene(d: dict[str, Any]) -> SceneInfo:
    d = dict(d)
    if d.get("shift_px") is not None:
        d["shift_px"] = tuple(d["shift_px"])
    return SceneInfo(**d)


def save_cube(cube: SceneCube, path: Path) -> Path:
    """Write `cube` under `path` (a Zarr group), atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".part")
    shutil.rmtree(tmp, ignore_errors=True)
    gb = cube.geobox
    values = cube.data.values
    group = zarr.open_group(tmp, mode="w", zarr_format=3)
    group.attrs.update(
        {
            "format": CACHE_FORMAT,
            "bands": cube.bands,
            "scenes": [s.as_dict() for s in cube.scenes],
            "dropped": [s.as_dict() for s in cube.dropped],
            "crs": gb.crs.to_wkt(),
            "affine": list(gb.affine)[:6],
            "shape": list(gb.shape.yx),
        }
    )
    data = group.create_array(
        "data", shape=values.shape, chunks=(1, *values.shape[1:]), dtype="float32", compressors=[_COMPRESSOR]
    )
    data[...] = values
    group.create_array("site_mask", data=cube.site_mask.astype("uint8"), compressors=[_COMPRESSOR])
    group.create_array("time", data=cube.data.time.values.astype("datetime64[ns]").astype("int64"))
    shutil.rmtree(path, ignore_errors=True)
    tmp.rename(path)
    return path


def load_cached_cube(path: Path) -> SceneCube:
    """The cube `save_cube` wrote, read into one float32 array."""
    group = zarr.open_group(path, mode="r")
    attrs = group.attrs.asdict()
    geobox = GeoBox(tuple(attrs["shape"]), Affine(*attrs["affine"]), attrs["crs"])
    values = group["data"][...]
    times = list(np.asarray(group["time"][...], dtype="int64").astype("datetime64[ns]"))
    array = cube_array(values, times, list(attrs["bands"]), geobox)
    scenes = [_scene(s) for s in attrs["scenes"]]
    dropped = [_scene(s) for s in attrs["dropped"]]
    return SceneCube(array, scenes, geobox, np.asarray(group["site_mask"][...]).astype(bool), dropped)


def cached(path: Path) -> bool:
    """Whether a complete cube of the current format is stored at `path`."""
    meta = path / "zarr.json"
    if not meta.is_file():
        return False
    try:
        return json.loads(meta.read_text()).get("attributes", {}).get("format") == CACHE_FORMAT
    except (OSError, ValueError):
        return False
