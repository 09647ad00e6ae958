"""The cube cache: what goes in comes back bit for bit, and only a complete cube of this format counts."""

from __future__ import annotations

import json

import numpy as np
from odc.geo.geobox import GeoBox
from rasterio.transform import from_origin

from sitewatch.imagery.cache import CACHE_FORMAT, cached, load_cached_cube, save_cube
from sitewatch.imagery.cube import SceneCube, SceneInfo, cube_array


def _cube() -> SceneCube:
    rng = np.random.default_rng(0)
    geobox = GeoBox((30, 40), from_origin(450000, 5410000, 10, 10), "EPSG:32631")
    data = rng.normal(1000, 50, (4, 3, 30, 40)).astype("float32")
    data[1, :, :5] = np.nan
    times = [np.datetime64(f"2021-0{m}-15T10:30:00") for m in range(1, 5)]
    scenes = [SceneInfo(id=f"s{i}", datetime=f"2021-0{i + 1}-15T10:30:00Z", source="local") for i in range(4)]
    scenes[2].shift_px = (0.25, -0.5)
    site_mask = np.zeros((30, 40), dtype=bool)
    site_mask[10:20, 10:30] = True
    dropped = [SceneInfo(id="cloudy", datetime="2021-02-01T10:30:00Z", source="local", notes=["dropped: clouds"])]
    return SceneCube(cube_array(data, times, ["blue", "red", "nir"], geobox), scenes, geobox, site_mask, dropped)


def test_a_cached_cube_comes_back_bit_for_bit(tmp_path):
    cube = _cube()
    path = save_cube(cube, tmp_path / "key.zarr")
    assert cached(path) and not (tmp_path / "key.zarr.part").exists()
    back = load_cached_cube(path)
    np.testing.assert_array_equal(back.data.values, cube.data.values)
    assert back.data.dtype == np.float32 and back.bands == cube.bands
    np.testing.assert_array_equal(back.times, cube.times)
    assert back.geobox == cube.geobox
    np.testing.assert_array_equal(back.site_mask, cube.site_mask)
    assert [s.as_dict() for s in back.scenes] == [s.as_dict() for s in cube.scenes]
    assert back.scenes[2].shift_px == (0.25, -0.5) and back.dropped[0].notes == ["dropped: clouds"]


def test_only_a_complete_cube_of_this_format_counts(tmp_path):
    path = save_cube(_cube(), tmp_path / "key.zarr")
    meta = path / "zarr.json"
    stored = json.loads(meta.read_text())
    stored["attributes"]["format"] = CACHE_FORMAT - 1  # an older layout: recomputed, not misread
    meta.write_text(json.dumps(stored))
    assert not cached(path)
    meta.write_text("{not json")
    assert not cached(path)
    assert not cached(tmp_path / "missing.zarr")
