"""Facility-sized sites on real OSCD labels, and the per-site benchmark run on them."""

import json

import numpy as np
import pytest
from rasterio.features import geometry_mask

from sitewatch.bench import oscd_scenes
from sitewatch.bench.site_layout import CLEAR_M, MAX_SITE_M2, MIN_CHANGE_M2, MIN_SITE_M2, place_sites
from sitewatch.bench.sites import run_sites_benchmark
from sitewatch.detect import default_config
from sitewatch.detect.learned import FIXED_SPLIT_MODEL
from tests.cli.run import sitewatch


@pytest.fixture(scope="module")
def beirut(oscd_root):
    return next(iter(oscd_scenes(oscd_root, ["beirut"])))


def _inside(site, scene) -> np.ndarray:
    return geometry_mask([site.geometry], out_shape=scene.geobox.shape.yx, transform=scene.geobox.affine, invert=True)


def test_sites_sit_on_change_and_on_land_without_any(beirut):
    placed = place_sites("beirut", beirut.changed, beirut.geobox, per_city=6)
    positives = [t for t in placed if t.changed]
    negatives = [t for t in placed if not t.changed]
    assert len(positives) == len(negatives) == 6
    pixel_m2 = 100.0  # OSCD's 10 m grid (in degrees: about 10 x 10 m)
    for test in placed:
        assert MIN_SITE_M2 * 0.9 <= test.site.area_m2 <= MAX_SITE_M2 * 1.1
    for test in positives:
        assert beirut.changed[_inside(test.site, beirut)].sum() * pixel_m2 >= MIN_CHANGE_M2 * 0.9
    for test in negatives:
        cleared = test.site.geometry.buffer(CLEAR_M * 0.9 / 111_000)
        near = geometry_mask([cleared], out_shape=beirut.geobox.shape.yx, transform=beirut.geobox.affine, invert=True)
        assert not beirut.changed[near].any()
    again = place_sites("beirut", beirut.changed, beirut.geobox, per_city=6)
    assert [t.site.geometry.wkt for t in again] == [t.site.geometry.wkt for t in placed]  # seeded: the same sites


def test_site_benchmark_tells_changed_sites_from_unchanged_ones(beirut, oscd_root):
    # the default detector, with the model trained without beirut (a fixed-split test city)
    config = default_config("auto", model=str(FIXED_SPLIT_MODEL))
    result = run_sites_benchmark(str(oscd_root), [beirut], config, per_city=4)
    positives = [s for s in result.sites if s.changed]
    negatives = [s for s in result.sites if not s.changed]
    assert len(positives) == len(negatives) == 4
    assert all(s.labelled_m2 >= MIN_CHANGE_M2 * 0.5 for s in positives)
    assert all(s.labelled_m2 == 0 for s in negatives)
    assert all(0.0 <= s.agreement_iou <= 1.0 for s in result.sites)
    # detection separates them: positives carry more flagged area per m² of site than negatives
    share = {
        kind: np.mean([s.flagged_m2 / s.site_m2 for s in group])
        for kind, group in (("pos", positives), ("neg", negatives))
    }
    assert share["pos"] > 2 * share["neg"]
    summary = result.summary()
    assert summary["sites"] == 8 and summary["methods"] == ["learned"]
    assert summary["recall"] == sum(s.flagged for s in positives) / 4


def test_bench_sites_command_with_the_fixed_split_model(oscd_root):
    result = sitewatch(
        "bench", "sites", oscd_root, "--city", "paris", "--city", "bercy", "--cv", "fixed", "--per-city", "2", "--json"
    )
    assert result.returncode == 0, result.stderr
    auto, cva = json.loads(result.stdout)["results"]
    assert {s["city"] for s in auto["sites"]} == {"paris"}  # bercy is no fixed-split test city
    assert auto["summary"]["methods"] == ["learned"] and cva["summary"]["methods"] == ["cva"]
    assert auto["sites"][0]["method"] == "learned"


def test_bench_sites_refuses_bad_options_before_any_work(oscd_root, tmp_path):
    result = sitewatch("bench", "sites", oscd_root, "--per-city", "0")
    assert result.returncode == 2 and "--per-city" in result.stderr
    result = sitewatch("bench", "sites", oscd_root, "--cv", "loco", "--models-dir", tmp_path)
    assert result.returncode == 2
    assert "no fold model" in result.stderr and result.stderr.count("\n") == 1
