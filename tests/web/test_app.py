"""The workbench's HTTP surface without a browser: errors, limits, tokens, exports, tiles.

On a SQLite store filled by a real run; requests go through Starlette's test client, which
drives the same ASGI app `sitewatch serve` runs.
"""

from __future__ import annotations

import io
import json
import re

import morecantile
import numpy as np
import pyogrio
import pytest
from fastapi.testclient import TestClient
from PIL import Image

from sitewatch.store import open_store
from sitewatch.store.repo import list_events
from sitewatch.web import create_app
from sitewatch.web.settings import MAX_BODY_BYTES, Settings
from tests.cli.run import sitewatch
from tests.jobs.test_series import scene_folder  # noqa: F401  (fixture: dated GeoTIFFs of Paris)
from tests.web.conftest import PASSWORD, SITE, fill_store

WEB_MERCATOR = morecantile.tms.get("WebMercatorQuad")  # the tile grid MapLibre asks in


@pytest.fixture(scope="module")
def store(scene_folder, tmp_path_factory):  # noqa: F811
    city, folder = scene_folder
    work = tmp_path_factory.mktemp("app")
    url = f"sqlite:///{work / 'store.db'}"
    fill_store(url, work / "looks", city, folder, work)
    return url, work / "looks"


@pytest.fixture(scope="module")
def app(store):
    url, looks = store
    return create_app(Settings(store_url=url, looks_dir=looks))


def signed_in(app, name: str = "ana") -> tuple[TestClient, str]:
    """A client with a session, and the session's CSRF token."""
    client = TestClient(app, raise_server_exceptions=False)
    page = client.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    answer = client.post("/login", data={"name": name, "password": PASSWORD, "csrf_token": token})
    assert answer.status_code == 200, answer.text  # redirected to the watchlist
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', answer.text).group(1)
    return client, csrf


def one_line_json(answer, status: int) -> str:
    assert answer.status_code == status, (answer.status_code, answer.text[:300])
    body = answer.json()
    assert list(body) == ["error"] and "\n" not in body["error"] and "Traceback" not in body["error"]
    return body["error"]


def test_pages_and_protections(app):
    client, _ = signed_in(app)
    for path in ("/", f"/sites/{SITE}", "/events/1", "/events/E0001", "/events/%231"):
        answer = client.get(path)
        assert answer.status_code == 200, path
        headers = answer.headers
        assert (
            "script-src 'self'" in headers["content-security-policy"]
            and "unsafe-inline" not in answer.headers["content-security-policy"]
        )
        assert headers["x-frame-options"] == "DENY" and headers["x-content-type-options"] == "nosniff"
        assert "<script>" not in answer.text.replace('<script type="application/json" id="page-data">', "")


def test_session_cookie_flags(app):
    client = TestClient(app)
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").text).group(1)
    answer = client.post(
        "/login", data={"name": "ana", "password": PASSWORD, "csrf_token": token}, follow_redirects=False
    )
    cookie = answer.headers["set-cookie"]
    assert answer.status_code == 303 and "HttpOnly" in cookie and "SameSite=lax" in cookie
    assert "Secure" not in cookie  # plain http on 127.0.0.1; `serve --tls-cert` makes it Secure


def test_sign_in_needs_its_form_token_and_never_redirects_elsewhere(app):
    client = TestClient(app, raise_server_exceptions=False)
    refused = client.post("/login", data={"name": "ana", "password": PASSWORD, "csrf_token": "forged"})
    assert refused.status_code == 403
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").text).group(1)
    answer = client.post(
        "/login",
        data={"name": "ana", "password": PASSWORD, "csrf_token": token, "next": "//evil.example/"},
        follow_redirects=False,
    )
    assert answer.headers["location"] == "/"


def test_bad_ids_and_bad_requests_get_one_line_4xx(app):
    client, csrf = signed_in(app)
    for path in (
        "/api/events/999999",
        "/api/events/abc",
        "/api/events/E99999999999999999999999",
        "/api/events/-1",
        "/api/sites/..%2F..%2Fetc/events",
        "/api/sites/nope/events",
        f"/tiles/{SITE}/999/0/12/2075/1409.png",
        f"/tiles/{SITE}/1/99/12/2075/1409.png",
        "/tiles/..%2F..%2F/1/0/12/2075/1409.png",
        f"/tiles/{SITE}/1/0/99/0/0.png",
        f"/tiles/{SITE}/1/0/2/9/9.png",
        "/chips/999999/0.png",
        "/chips/1/999.png",
    ):
        answer = client.get(path)
        assert 400 <= answer.status_code < 500, (path, answer.status_code)
        one_line_json(answer, answer.status_code)
    assert "min_area" in one_line_json(client.get("/api/sites?min_area=lots"), 422)
    assert "status" in one_line_json(client.get("/api/sites?status=<b>"), 422)
    assert "since" in one_line_json(client.get("/api/sites?since=2017-13-45"), 422)
    page = client.get("/events/not-an-id")
    assert page.status_code == 404 and "not an event id" in page.text and "Traceback" not in page.text
    headers = {"X-CSRF-Token": csrf, "Content-Type": "application/json"}
    assert one_line_json(client.post("/api/events/1/reviews", content=b"{not json", headers=headers), 422)
    extra = json.dumps({"status": "confirmed", "sql": "drop"})
    assert one_line_json(client.post("/api/events/1/reviews", content=extra, headers=headers), 422)
    bogus = json.dumps({"status": "approved"})
    refused = client.post("/api/events/1/reviews", content=bogus, headers=headers)
    assert "use one of confirmed" in one_line_json(refused, 422)
    no_reason = json.dumps({"status": "dismissed"})
    assert "reason" in one_line_json(client.post("/api/events/1/reviews", content=no_reason, headers=headers), 422)
    huge = json.dumps({"status": "confirmed", "note": "x" * MAX_BODY_BYTES})
    assert "KiB" in one_line_json(client.post("/api/events/1/reviews", content=huge, headers=headers), 413)

    def chunks():
        yield b'{"status": "confirmed", "note": "'
        for _ in range(100):
            yield b"x" * 1024
        yield b'"}'

    streamed = client.post("/api/events/1/reviews", content=chunks(), headers=headers)  # no Content-Length
    one_line_json(streamed, 413)
    with open_store(app.state.store.url).session() as session:
        assert all(e.status == "new" for e in list_events(session, SITE) if e.id == 1)


def test_web_and_cli_reviews_are_one_record(app, store):
    url, _ = store
    client, csrf = signed_in(app)
    answer = client.post(
        "/api/events/5/reviews",
        json={"status": "dismissed", "reason": "vegetation", "note": "crop field"},
        headers={"X-CSRF-Token": csrf},
    )
    assert answer.status_code == 201 and answer.json()["analyst"] == "ana"
    listed = sitewatch("events", "--db", url, "list", "--site", SITE, "--status", "dismissed")
    assert listed.returncode == 0 and re.search(r"│ 5 +│", listed.stdout)
    cli = sitewatch("events", "--db", url, "review", "E5", "--confirm", "--note", "on second look", "--analyst", "bo")
    assert cli.returncode == 0, cli.stderr
    history = client.get("/api/events/5").json()["reviews"]
    assert [(r["status"], r["reason"], r["analyst"]) for r in history] == [
        ("dismissed", "vegetation", "ana"),
        ("confirmed", None, "bo"),
    ]
    assert client.get("/api/events/5").json()["status"] == "confirmed"


def test_filters_and_search(app):
    client, _ = signed_in(app)
    every = client.get("/api/sites").json()["features"]
    assert {f["id"] for f in every} == {SITE, "odd-1"}
    paris = next(f for f in every if f["id"] == SITE)["properties"]
    assert paris["events"] > 100
    built = client.get("/api/sites?kind=built_up_gain&min_area=5000").json()["features"]
    counted = next(f for f in built if f["id"] == SITE)["properties"]["events"]
    events = client.get(f"/api/sites/{SITE}/events").json()["features"]
    expected = [
        e for e in events if e["properties"]["kind"] == "built_up_gain" and e["properties"]["inside_m2"] >= 5000
    ]
    assert counted == len(expected) and 0 < counted < paris["events"]
    late = client.get("/api/sites?since=2018-01-01").json()["features"]
    assert next(f for f in late if f["id"] == SITE)["properties"]["events"] == 0
    assert [f["id"] for f in client.get("/api/sites?q=PARIS").json()["features"]] == [SITE]


def test_exports(app):
    client, _ = signed_in(app)
    doc = client.get(f"/sites/{SITE}/export.geojson").json()
    assert doc["type"] == "FeatureCollection" and len(doc["features"]) > 100
    kml = client.get(f"/sites/{SITE}/export.kml")
    assert kml.headers["content-type"].startswith("application/vnd.google-earth.kml+xml")
    assert kml.text.count("<TimeSpan>") == len(doc["features"]) and "<LineStyle>" in kml.text
    gpkg = client.get(f"/sites/{SITE}/export.gpkg")
    frame = pyogrio.read_dataframe(io.BytesIO(gpkg.content))
    assert len(frame) == len(doc["features"]) and frame.crs.to_epsg() == 4326
    report = client.get(f"/sites/{SITE}/report.html")
    assert report.status_code == 200 and "attachment" in report.headers["content-disposition"]
    assert client.get(f"/sites/{SITE}/export.exe").status_code == 404


def test_tiles_and_chips_show_the_looks(app):
    client, _ = signed_in(app)
    site = client.get(f"/api/sites/{SITE}/events").json()["features"][0]["geometry"]["coordinates"][0][0]
    x, y, z = WEB_MERCATOR.tile(*site, 14)
    tile = client.get(f"/tiles/{SITE}/1/0/{z}/{x}/{y}.png")
    image = np.asarray(Image.open(io.BytesIO(tile.content)))
    assert tile.status_code == 200 and image.shape[:2] == (256, 256)
    assert image[..., 3].mean() > 100 and image[..., :3].std() > 10  # imagery, mostly opaque
    outside = np.asarray(Image.open(io.BytesIO(client.get(f"/tiles/{SITE}/1/0/{z}/0/0.png").content)))
    assert outside[..., 3].max() == 0  # transparent away from the look
    chip = Image.open(io.BytesIO(client.get("/chips/1/0.png").content))
    pixels = np.asarray(chip.convert("RGB"))
    assert max(chip.size) == 256 and (np.abs(pixels - [255, 214, 0]).sum(axis=-1) == 0).sum() > 50  # the outline


def test_an_event_links_to_the_one_it_follows(app, store):
    url, _ = store
    with open_store(url).session() as session:
        from sitewatch.store.models import Event

        later = session.get(Event, 7)
        later.follows_id, later.phase = 3, "later"
        session.commit()
    client, _ = signed_in(app)
    assert client.get("/api/events/7").json()["follows"] == 3
    page = client.get("/events/7").text
    assert '<a href="/events/3">E0003</a>' in page and "later phase" in page
    assert 'id="follows"' not in client.get("/events/3").text
    listed = sitewatch("events", "--db", url, "list", "--site", SITE)
    assert re.search(r"│ 7 +│.*│ 3 +│", listed.stdout)
