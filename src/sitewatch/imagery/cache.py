"""On-disk cache of cleaned cubes (Zarr), keyed by everything that went into them.

The key is a SHA-256 of the inputs (each STAC item's id, asset URLs and `updated` time;
each local file's path, size and modification time), the grid, the period and every
clean-up parameter, plus the sitewatch version. Searching a catalogue is cheap and is
always done; reading pixels is not, so when the key is already on disk nothing is read:
a re-run downloads and computes nothing new. A cube is written to a temporary folder and
renamed, so a killed run never leaves a half cube behind under a valid key.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import xarray as xr
from affine import Affine
from odc.geo.geobox import GeoBox

from sitewatch.imagery.cube import SceneCube, SceneInfo, cube_array


def default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "sitewatch" / "cubes"


def _scene(d: dict[str, Any]) -> SceneInfo:
    d = dict(d)
    if d.get("shift_px") is not None:
        d["shift_px"] = tuple(d["shift_px"])
    return SceneInfo(**d)


def save_cube(cube: SceneCube, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".part")
    shutil.rmtree(tmp, ignore_errors=True)
    gb = cube.geobox
    data = xr.Dataset(
        {
            "data": (("time", "band", "y", "x"), cube.data.values),
            "site_mask": (("y", "x"), cube.site_mask.astype("uint8")),
        },
        coords={"time": cube.data.time.values},  # band names in attrs: Zarr v3 has no string dtype yet
        attrs={
            "bands": json.dumps(cube.bands),
            "scenes": json.dumps([s.as_dict() for s in cube.scenes]),
            "dropped": json.dumps([s.as_dict() for s in cube.dropped]),
            "crs": gb.crs.to_wkt(),
            "affine": json.dumps(list(gb.affine)[:6]),
            "shape": json.dumps(list(gb.shape.yx)),
        },
    )
    data.to_zarr(tmp, mode="w", consolidated=False)
    shutil.rmtree(path, ignore_errors=True)
    tmp.rename(path)
    return path


def load_cached_cube(path: Path) -> SceneCube:
    data = xr.open_zarr(path, consolidated=False).load()
    shape, affine = tuple(json.loads(data.attrs["shape"])), Affine(*json.loads(data.attrs["affine"]))
    geobox = GeoBox(shape, affine, data.attrs["crs"])
    array = cube_array(
        data["data"].values,
        list(data.time.values),
        json.loads(data.attrs["bands"]),
        geobox,
    )
    scenes = [_scene(s) for s in json.loads(data.attrs["scenes"])]
    dropped = [_scene(s) for s in json.loads(data.attrs["dropped"])]
    return SceneCube(array, scenes, geobox, data["site_mask"].values.astype(bool), dropped)


def cached(path: Path) -> bool:
    return (path / "zarr.json").exists() or (path / ".zgroup").exists()
