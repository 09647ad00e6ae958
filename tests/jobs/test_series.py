"""`sitewatch monitor` on a folder of dated scenes built from the real OSCD Paris pair.

Four looks of each real date (2016-11-30, 2017-11-07), each with its own gain, noise and
cloud blobs written as no-data, plus one look clouded over most of the site; the real
change between the dates must come out as events dated between the two real dates.
"""

from __future__ import annotations

import json
import os
from datetime import date

import numpy as np
import pytest

from sitewatch.bench.series import write_dated_series
from tests.cli.run import assert_one_line_error, sitewatch

DATES = (date(2016, 11, 30), date(2017, 11, 7))


@pytest.fixture(scope="module")
def scene_folder(oscd_city, tmp_path_factory):
    """Dated GeoTIFFs of Paris: four looks of each real date, clouds, one overcast look."""
    city = oscd_city("paris")
    _, scenes = write_dated_series(city, tmp_path_factory.mktemp("series"))
    return city, scenes


@pytest.fixture(scope="module")
def monitor_run(scene_folder, tmp_path_factory):
    city, folder = scene_folder
    out = tmp_path_factory.mktemp("monitor")
    args = ("--from", "2016-10-01", "--to", "2017-12-31", "--source", folder, "--out", out)
    return sitewatch("monitor", city / "paris.geojson", *args, "--cache", out / "cache"), out


def test_monitor_dates_the_real_change(monitor_run):
    result, out = monitor_run
    assert result.returncode == 0, result.stderr
    summary = json.loads((out / "summary.json").read_text())
    assert len(summary["cube"]["scenes"]) == 8
    assert [s["id"] for s in summary["cube"]["dropped"]] == ["paris_2017-11-09.tif"]
    assert "clear" in summary["cube"]["dropped"][0]["notes"][-1]
    notes = [n for scene in summary["cube"]["scenes"] for n in scene["notes"]]
    assert notes.count("co-registration reference") == 1
    assert all(abs(v) < 0.5 for scene in summary["cube"]["scenes"] for v in scene["shift_px"])  # same real grid
    events = json.loads((out / "events.geojson").read_text())["features"]
    assert events and summary["results"]["event_count"] == len(events)
    between = [
        e
        for e in events
        if e["properties"]["before_date"] <= "2016-11-30T23" and e["properties"]["after_date"] >= "2017-11-07"
    ]
    area = sum(e["properties"]["area_m2"] for e in events)
    assert sum(e["properties"]["area_m2"] for e in between) > 0.95 * area
    assert all(e["properties"]["confirmations"] >= 2 for e in events)
    timeline = summary["results"]["timeline"]
    assert timeline[-1]["cumulative_m2"] == pytest.approx(area, rel=1e-3)
    # one real change: no further phase, so the footprint is the changed area
    assert summary["results"]["phase_event_count"] == 0
    assert summary["results"]["footprint_m2"] == summary["results"]["changed_area_m2"]


def test_monitor_report(monitor_run):
    _, out = monitor_run
    html = (out / "report.html").read_text()
    assert "<svg" in html and "changed area over time" in html
    assert html.count("data:image/png;base64,") >= 4  # chip strips through time
    assert "paris_2017-11-09.tif" in html  # the dropped scene is listed, with why


def test_monitor_with_normalisation(scene_folder, tmp_path):
    city, folder = scene_folder
    period = ("--from", "2016-10-01", "--to", "2017-12-31")
    options = ("--normalise", "--no-cache", "--cloud-mask", "s2cloudless")
    result = sitewatch("monitor", city / "paris.geojson", *period, "--source", folder, "--out", tmp_path, *options)
    assert result.returncode == 0, result.stderr
    scenes = json.loads((tmp_path / "summary.json").read_text())["cube"]["scenes"]
    assert all(any(n.startswith("s2cloudless: ") for n in s["notes"]) for s in scenes)
    reference = next(s for s in scenes if "co-registration reference" in s["notes"])
    same, other = [], []
    for scene in scenes:
        if scene["normalisation"]:
            gains = [scene["normalisation"][b][0] for b in ("blue", "green", "red", "nir", "swir16")]
            (same if scene["id"][6:10] == reference["id"][6:10] else other).append(gains)
    # looks of the reference's own date differ from it by ~1 % gain: normalisation finds ~1
    assert same and np.abs(np.array(same) - 1).max() < 0.06
    # looks of the other real date get one consistent correction (real sun/season difference)
    assert other and np.array(other).std(axis=0).max() < 0.05


def test_second_run_reads_the_cached_cube(monitor_run, scene_folder, tmp_path):
    city, folder = scene_folder
    _, first_out = monitor_run
    args = ("--from", "2016-10-01", "--to", "2017-12-31", "--source", folder, "--cache", first_out / "cache")
    again = sitewatch("monitor", city / "paris.geojson", *args, "--out", tmp_path / "again")
    assert again.returncode == 0, again.stderr
    assert "read from the cache" in again.stdout and "Loading scenes" not in again.stderr
    first = json.loads((first_out / "events.geojson").read_text())["features"]
    second = json.loads((tmp_path / "again" / "events.geojson").read_text())["features"]
    assert [f["properties"] for f in first] == [f["properties"] for f in second]
    # a changed input file is a different cube
    newest = sorted(folder.glob("*.tif"))[-1]
    os.utime(newest, ns=(newest.stat().st_atime_ns, newest.stat().st_mtime_ns + 10**9))
    changed = sitewatch("monitor", city / "paris.geojson", *args, "--out", tmp_path / "changed")
    assert changed.returncode == 0 and "read from the cache" not in changed.stdout


def test_monitor_bad_input(scene_folder, tmp_path):
    city, folder = scene_folder
    site = city / "paris.geojson"
    result = sitewatch(
        "monitor", site, "--from", "2018-01-01", "--to", "2017-01-01", "--source", folder, "--out", tmp_path / "o"
    )
    assert_one_line_error(result, "is after --to")
    result = sitewatch(
        "monitor", site, "--from", "2019-01-01", "--to", "2019-12-31", "--source", folder, "--out", tmp_path / "o"
    )
    assert_one_line_error(result, "no scene dated between")
    result = sitewatch("monitor", site, "--from", "2016-13-01", "--to", "2019-12-31", "--out", tmp_path / "o")
    assert_one_line_error(result, "is not a date")
