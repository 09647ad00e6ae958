"""Watchlist and review commands on a SQLite store, as an analyst runs them."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from sitewatch.sites import read_sites
from sitewatch.store import open_store
from sitewatch.store.repo import record_run
from tests.cli.run import assert_one_line_error, sitewatch
from tests.conftest import box_polygon
from tests.store.test_repo import detected


@pytest.fixture
def db(tmp_path):
    return f"sqlite:///{tmp_path / 'store.db'}"


@pytest.fixture
def site_file(tmp_path):
    doc = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "properties": {"id": "plant-1", "name": "Plant <one>", "country": "DE"},
                "geometry": box_polygon(13.78, 52.38, 13.82, 52.41),
            },
            {
                "type": "Feature",
                "properties": {"id": "depot-2", "name": "Depot"},
                "geometry": box_polygon(13.70, 52.30, 13.71, 52.31),
            },
        ],
    }
    path = tmp_path / "sites.geojson"
    path.write_text(json.dumps(doc))
    return path


def test_watchlist_round_trip(db, site_file, tmp_path):
    assert sitewatch("watchlist", "--db", db, "import", site_file).returncode == 0
    listed = sitewatch("watchlist", "--db", db, "list")
    assert "plant-1" in listed.stdout and "depot-2" in listed.stdout
    shown = sitewatch("watchlist", "--db", db, "show", "plant-1")
    assert "Plant <one>" in shown.stdout and "country: DE" in shown.stdout
    assert_one_line_error(sitewatch("watchlist", "--db", db, "import", site_file), "already in the store")
    out = tmp_path / "export.kml"
    assert sitewatch("watchlist", "--db", db, "export", out).returncode == 0
    back = {site.id: site.name for site in read_sites(out).sites}
    assert back == {"plant-1": "Plant <one>", "depot-2": "Depot"}
    assert_one_line_error(sitewatch("watchlist", "--db", db, "remove", "depot-2"), "--yes")  # asks first
    assert "depot-2" in sitewatch("watchlist", "--db", db, "list").stdout
    assert sitewatch("watchlist", "--db", db, "remove", "depot-2", "--yes").returncode == 0
    assert "depot-2" not in sitewatch("watchlist", "--db", db, "list").stdout
    assert_one_line_error(sitewatch("watchlist", "--db", db, "show", "depot-2"), "no site 'depot-2'")
    assert sitewatch("watchlist", "--db", db, "restore", "depot-2").returncode == 0  # the way back
    assert "depot-2" in sitewatch("watchlist", "--db", db, "list").stdout
    assert sitewatch("watchlist", "--db", db, "remove", "depot-2", "--yes", "--purge").returncode == 0
    assert_one_line_error(sitewatch("watchlist", "--db", db, "restore", "depot-2"), "no site 'depot-2'")


def test_review_from_the_command_line(db, site_file, tmp_path):
    sitewatch("watchlist", "--db", db, "import", site_file)
    with open_store(db).session() as session:
        event = record_run(session, "plant-1", {"s": 1}, {}, [detected(13.79)], datetime.now(UTC)).new[0]
    assert sitewatch("events", "--db", db, "review", str(event.id), "--dismiss", "--note", "shadow").returncode == 0
    listed = sitewatch("events", "--db", db, "list", "--site", "plant-1", "--status", "dismissed")
    assert f"│ {event.id} " in listed.stdout or f"{event.id}" in listed.stdout
    assert_one_line_error(sitewatch("events", "--db", db, "review", str(event.id)), "exactly one of")
    smart = tmp_path / "smart"
    assert sitewatch("watchlist", "--db", db, "export", tmp_path / "w.geojson").returncode == 0
    assert sitewatch("events", "--db", db, "export", smart).returncode == 0
    (model_file,) = smart.glob("*.geojson")
    model = json.loads(model_file.read_text())
    site, *observations = model["features"]
    assert site["properties"]["type"] == "site" and site["properties"]["status"] == "negative"
    assert (
        site["properties"]["mgrs"] == "33UVU"
    )  # Grünheide: 418 km easting, one square east of Berlin and site["properties"]["start_date"] == "2020-03-01"
    assert [o["properties"]["observation_date"] for o in observations] == ["2020-03-01", "2020-04-01"]
    assert_one_line_error(sitewatch("events", "--db", db, "review", "999", "--confirm"), "no event 999")


def test_bad_input(db, site_file, tmp_path):
    sitewatch("watchlist", "--db", db, "import", site_file)
    assert_one_line_error(sitewatch("watchlist", "--db", db, "show", "nowhere"), "no site 'nowhere'")
    assert_one_line_error(sitewatch("events", "--db", db, "list", "--site", "nowhere"), "no site 'nowhere'")
    bad_kml = tmp_path / "bad.kml"
    bad_kml.write_text("<kml><Document><Placemark><Polygon>")
    result = sitewatch("watchlist", "--db", db, "add", bad_kml)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    unreachable = "postgresql://sitewatch@127.0.0.1:1/none"
    assert_one_line_error(sitewatch("watchlist", "--db", unreachable, "list"), "cannot be reached")
