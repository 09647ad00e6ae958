import json
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
from affine import Affine
from odc.geo.geobox import GeoBox
from shapely.geometry import box

from sitewatch.events import extract_events, write_events
from sitewatch.imagery.cube import SceneCube, SceneInfo, cube_array
from sitewatch.imagery.dates import AcquisitionTime
from sitewatch.imagery.local import ImageSource

DAYS = (("before", "2020-01-05"), ("after", "2021-02-10"))


def _cube_and_change(mask: np.ndarray, site_mask: np.ndarray | None = None):
    """A cube of two looks (10 m grid in UTM 36N near Beirut) whose second look changed where `mask`, and a score."""
    geobox = GeoBox(mask.shape, Affine(10, 0, 730000, 0, -10, 3755000), "EPSG:32636")
    bands = ["blue", "green", "red", "nir", "swir16"]
    before = np.ones((5, *mask.shape), "float32") * np.array([700, 900, 700, 3500, 1800], "float32")[:, None, None]
    after = before.copy()
    after[:, mask] = np.array([1200, 1500, 1900, 2400, 3200], "float32")[:, None]
    files = [
        ImageSource(
            path=Path(f"/data/{n}.tif"),
            bands=[],
            time=AcquisitionTime(np.datetime64(d, "ns"), "test"),
            sensor=None,
            crs_wkt="",
            footprint_wgs84=box(0, 0, 1, 1),
        )
        for n, d in DAYS
    ]
    scenes = [SceneInfo(id=n, datetime=f"{d}T00:00:00Z", source="local") for n, d in DAYS]
    times = [np.datetime64(d, "ns") for _, d in DAYS]
    cube = SceneCube(
        cube_array(np.stack([before, after]), times, bands, geobox),
        scenes,
        geobox,
        np.ones(mask.shape, bool) if site_mask is None else site_mask,
        files=files,
    )
    score = np.where(mask, 6.0, 0.5).astype("float32")
    return cube, score


def test_regions_become_measured_dated_events():
    mask = np.zeros((50, 50), bool)
    mask[5:15, 5:25] = True  # 200 px = 20,000 m2
    mask[30:33, 30:33] = True  # 9 px
    mask[40, 40] = mask[41, 41] = True  # two pixels touching at a corner: one region
    cube, score = _cube_and_change(mask)
    events = extract_events(cube, mask, score)
    assert [e.pixel_count for e in events] == [200, 9, 2]
    assert [e.id for e in events] == ["E0001", "E0002", "E0003"]
    big = events[0]
    assert big.area_m2 == pytest.approx(20_000, rel=1e-6)
    assert big.mean_score == pytest.approx(6.0)
    assert (big.before_date, big.after_date) == ("2020-01-05T00:00:00Z", "2021-02-10T00:00:00Z")
    assert big.kind == "earthworks"
    assert events[2].geometry.is_valid and events[2].area_m2 == pytest.approx(200, rel=1e-6)
    west, south, east, north = big.geometry.bounds
    assert 35.0 < west < east < 36.0 and 33.0 < south < north < 34.5  # WGS84 near Beirut


def test_changes_only_in_the_margin_are_not_events():
    mask = np.zeros((30, 30), bool)
    mask[2:6, 2:6] = True
    mask[20:25, 20:25] = True
    site = np.zeros((30, 30), bool)
    site[15:, 15:] = True
    cube, score = _cube_and_change(mask, site)
    events = extract_events(cube, mask, score)
    assert len(events) == 1 and events[0].pixel_count == 25


def test_export_formats(tmp_path):
    mask = np.zeros((30, 30), bool)
    mask[2:6, 2:6] = True
    mask[10:20, 10:12] = True
    cube, score = _cube_and_change(mask)
    events = extract_events(cube, mask, score)
    paths = write_events(events, tmp_path, metadata={"method": "cva"})
    doc = json.loads(paths["geojson"].read_text())
    assert doc["sitewatch"] == {"method": "cva"}
    assert [f["properties"]["area_m2"] for f in doc["features"]] == [2000.0, 1600.0]
    assert doc["features"][0]["properties"]["evidence"]["ndvi_change"] < 0
    for fmt in ("gpkg", "kml"):
        frame = gpd.read_file(paths[fmt])
        assert len(frame) == 2 and frame.crs.to_epsg() == 4326
    assert set(gpd.read_file(paths["gpkg"]).columns) >= {"id", "kind", "area_m2", "before_date"}
