"""The `sitewatch` command as a user runs it: real files, exit codes, one error line."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import rasterio

from tests.cli.run import assert_one_line_error, sitewatch
from tests.conftest import box_polygon, write_geojson


@pytest.fixture(scope="module")
def paris(oscd_city) -> Path:
    return oscd_city("paris")


@pytest.fixture(scope="module")
def detect_run(paris, tmp_path_factory):
    out = tmp_path_factory.mktemp("run")
    result = sitewatch("detect", paris / "paris.geojson", paris / "imgs_1", paris / "imgs_2", "--out", out)
    return result, out


def test_detect_writes_every_output(detect_run):
    result, out = detect_run
    assert result.returncode == 0, result.stderr
    assert "Report:" in result.stdout and "report.html" in result.stdout
    assert {p.name for p in out.iterdir()} == {
        "change_map.tif",
        "events.geojson",
        "events.gpkg",
        "events.kml",
        "summary.json",
        "report.html",
    }
    summary = json.loads((out / "summary.json").read_text())
    events = json.loads((out / "events.geojson").read_text())["features"]
    assert summary["results"]["event_count"] == len(events) > 0
    assert summary["results"]["changed_area_m2"] == pytest.approx(  # the headline counts what is inside the site
        sum(f["properties"]["area_inside_site_m2"] for f in events), abs=1.0
    )
    assert summary["inputs"]["before"]["acquired"].startswith("2016-11-30")
    # the default picks the learned model for Sentinel-2 digital numbers, and says so everywhere
    assert summary["detector"]["parameters"]["method"] == "learned"
    choice = summary["detector"]["diagnostics"]["method_choice"]
    assert choice.startswith("learned (oscd-rgbn.onnx)")
    assert f"Detector: {choice}" in " ".join(result.stdout.split())
    assert choice in (out / "report.html").read_text()
    assert summary["detector"]["diagnostics"]["noise_context_m"] == 1000.0
    assert summary["grid"]["crs"] == "EPSG:32631"
    with rasterio.open(out / "change_map.tif") as src:
        assert src.count == 2 and src.crs.to_epsg() == 32631 and src.descriptions == ("change_score", "change_mask")
        mask = src.read(2)
        # the mask in the COG is the mask the events were drawn from: pixel area 100 m2
        assert np.nansum(mask) * 100 >= summary["results"]["changed_area_m2"]


def test_detect_progress_reports_each_stage(detect_run):
    result, _ = detect_run
    for stage in ("Aligning both dates", "Detecting change", "Rendering report"):
        assert stage in result.stderr


def test_detect_learned(tmp_path, paris):
    out = tmp_path / "learned"
    args = ("detect", paris / "paris.geojson", paris / "imgs_1", paris / "imgs_2", "--out", out)
    result = sitewatch(*args, "--method", "learned")
    assert result.returncode == 0, result.stderr
    detector = json.loads((out / "summary.json").read_text())["detector"]
    assert detector["parameters"]["model"] == "oscd-rgbn.onnx"
    assert 0 < detector["parameters"]["threshold_value"] < 1  # the model's own, written out
    bad = sitewatch(*args[:-1], tmp_path / "x", "--method", "learned", "--threshold", "otsu")
    assert_one_line_error(bad, "--method learned gives a probability")


def test_unreadable_raster(tmp_path, paris):
    bad = tmp_path / "after.tif"
    bad.write_bytes(b"II*\x00garbage")
    result = sitewatch("detect", paris / "paris.geojson", paris / "imgs_1", bad, "--out", tmp_path / "o")
    assert_one_line_error(result, "cannot be read as a raster")
    assert not (tmp_path / "o").exists() or not any((tmp_path / "o").iterdir())


def test_raster_not_overlapping_the_site(tmp_path, paris):
    site = write_geojson(tmp_path / "pisa.geojson", box_polygon(10.39, 43.70, 10.40, 43.71), name="elsewhere")
    result = sitewatch("detect", site, paris / "imgs_1", paris / "imgs_2", "--out", tmp_path / "o")
    assert_one_line_error(result, "does not overlap the site")


def test_non_georeferenced_image(tmp_path, paris):
    with rasterio.open(next((paris / "imgs_2").glob("*B04.tif"))) as src:
        data = src.read(1)
    plain = tmp_path / "scan.tif"
    with rasterio.open(
        plain, "w", driver="GTiff", width=data.shape[1], height=data.shape[0], count=1, dtype=data.dtype
    ) as dst:
        dst.write(data, 1)
    result = sitewatch("detect", paris / "paris.geojson", paris / "imgs_1", plain, "--out", tmp_path / "o")
    assert_one_line_error(result, "not georeferenced")


def test_bad_site_files(tmp_path, paris):
    zero = write_geojson(
        tmp_path / "zero.geojson",
        {"type": "Polygon", "coordinates": [[[2.3, 48.8], [2.31, 48.8], [2.32, 48.8], [2.3, 48.8]]]},
    )
    assert_one_line_error(sitewatch("sites", "check", zero), "no area")
    swapped = write_geojson(tmp_path / "swapped.geojson", box_polygon(48.83, 2.31, 48.84, 2.32))
    assert_one_line_error(
        sitewatch("detect", swapped, paris / "imgs_1", paris / "imgs_2", "--out", tmp_path / "o"),
        "does not overlap",
    )  # in range both ways: only the imagery can tell
    swapped_far = write_geojson(tmp_path / "sydney.geojson", box_polygon(-33.87, 151.20, -33.86, 151.21))
    assert_one_line_error(sitewatch("sites", "check", swapped_far), "swapped")
    pins = tmp_path / "pins.kml"
    pins.write_text(
        '<?xml version="1.0"?><kml xmlns="http://www.opengis.net/kml/2.2"><Document>'
        "<Placemark><name>pin</name><Point><coordinates>2.3,48.8</coordinates></Point>"
        "</Placemark></Document></kml>"
    )
    assert_one_line_error(sitewatch("sites", "check", pins), "no polygon placemark")


def test_self_intersecting_site_is_repaired_with_a_note(tmp_path):
    bowtie = write_geojson(
        tmp_path / "bowtie.geojson",
        {
            "type": "Polygon",
            "coordinates": [[[2.30, 48.80], [2.31, 48.81], [2.31, 48.80], [2.30, 48.81], [2.30, 48.80]]],
        },
        name="Bow tie",
    )
    result = sitewatch("sites", "check", bowtie)
    assert result.returncode == 0, result.stderr
    assert "Bow tie" in result.stdout and "repaired" in result.stderr
    strict = sitewatch("sites", "check", bowtie, "--no-repair")
    assert_one_line_error(strict, "invalid polygon")


def test_bad_options(tmp_path, paris):
    base = ["detect", paris / "paris.geojson", paris / "imgs_1", paris / "imgs_2", "--out", tmp_path / "o"]
    assert_one_line_error(sitewatch(*base, "--method", "magic"), "'magic' is not one of 'auto', 'cva'")
    assert_one_line_error(sitewatch(*base, "--threshold", "fixed"), "needs --threshold-value")
    assert_one_line_error(sitewatch(*base, "--before-date", "yesterday"), "not a date")


def test_sites_convert(tmp_path, paris):
    result = sitewatch("sites", "convert", paris / "paris.geojson", tmp_path / "paris.kmz")
    assert result.returncode == 0, result.stderr
    assert "paris" in sitewatch("sites", "check", tmp_path / "paris.kmz").stdout


def test_bench_json(landsat_root):
    result = sitewatch("bench", "landsat", landsat_root, "--method", "cva", "--json")
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    (bench,) = doc["results"]
    assert set(bench["scenes"]) == {"Taizhou", "Nanjing"}
    assert bench["parameters"]["method"] == "cva"
    assert 0 < bench["pooled"]["f1"] <= 1


def test_demo_without_sample_says_where_to_point(tmp_path):
    result = sitewatch("demo", "--out", tmp_path / "demo", env={"SITEWATCH_SAMPLE_DIR": str(tmp_path / "none")})
    assert_one_line_error(result, "SITEWATCH_SAMPLE_DIR")


def test_demo_on_sample(tmp_path, oscd_root):
    result = sitewatch(
        "demo", "--city", "paris", "--out", tmp_path / "demo", env={"SITEWATCH_SAMPLE_DIR": str(oscd_root)}
    )
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "demo" / "report.html").is_file()
