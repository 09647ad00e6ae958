"""The looks a stored run keeps for the workbench: one COG per look, one stretch, a manifest with checksums."""

from __future__ import annotations

import numpy as np
import pytest
import rasterio

from sitewatch.base.keys import sha256_file
from sitewatch.report.looks import read_manifest, run_looks_dir, write_looks
from tests.events.test_extract import _cube_and_change


def test_every_look_is_a_cog_with_one_stretch_and_a_checksum(tmp_path):
    mask = np.zeros((300, 300), bool)
    mask[100:200, 100:200] = True
    cube, _ = _cube_and_change(mask)
    cube.data.values[0, :, :10, :10] = np.nan  # no data in the first look's corner
    folder = run_looks_dir(tmp_path, "site-1", 7)
    entries = write_looks(cube, folder, score=np.where(mask, 6.0, 0.5).ravel(), mask=mask)
    assert folder == (tmp_path / "site-1" / "run-7").resolve()
    manifest = read_manifest(folder)
    assert [e["datetime"][:10] for e in manifest["looks"]] == ["2020-01-05", "2021-02-10"]
    assert manifest["looks"] == entries and manifest["bands"] == ["red", "green", "blue"]
    before, after = (folder / e["file"] for e in entries)
    for entry in entries:
        assert sha256_file(folder / entry["file"]) == entry["sha256"]
    with rasterio.open(before) as first, rasterio.open(after) as second:
        # in Web Mercator at the ground resolution (10 m) of the grid
        assert first.driver == "GTiff" and first.crs.to_epsg() == 3857 and first.count == 3
        ground = first.res[0] * np.cos(np.radians(33.9))  # the grid lies near Beirut
        assert ground == pytest.approx(10, rel=0.02)
        assert first.nodata == 0 and first.read(1)[first.height // 2, first.width // 2] > 0
        red_before, red_after = first.read(1), second.read(1)
        centre, quarter = (first.height // 2, first.width // 2), (first.height // 4, first.width // 4)
    # one stretch for both looks: the changed square is brighter in red after, as in the data
    assert red_after[centre] > red_before[centre]
    assert red_after[quarter] == red_before[quarter] > 0  # unchanged ground looks the same in both
    assert (red_before == 0).sum() > (red_after == 0).sum()  # the first look's no-data corner stays no data
    assert not list(folder.glob(".staging-*"))
    with rasterio.open(folder / manifest["score"]["file"]) as score:  # the score map on the run's own grid
        assert score.crs.to_epsg() == 32636 and score.read(2).sum() == mask.sum()
    assert sha256_file(folder / "score.tif") == manifest["score"]["sha256"]


def test_a_run_without_looks_has_no_manifest(tmp_path):
    assert read_manifest(tmp_path) is None
