"""A workbench on a store filled by a real watchlist run (the OSCD Paris series), and its server.

`fill_store` runs the same commands an analyst would: add the site, point it at the dated
scenes, run it (the run keeps its looks for the workbench), add a second site whose name
is hostile markup, and make one analyst and one viewer.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from sitewatch.store import open_store
from sitewatch.store.accounts import add_user
from tests.cli.run import sitewatch
from tests.conftest import box_polygon, new_store_url, write_geojson
from tests.jobs.test_series import scene_folder  # noqa: F401  (fixture: dated GeoTIFFs of Paris)
from tests.servers.harness import ServerProcess, free_port

PERIOD = ("--from", "2016-10-01", "--to", "2017-12-31")
SITE = "paris-1"
HOSTILE_NAME = "<script>alert(1)</script>"
PASSWORD = "correct horse battery"


def fill_store(url: str, looks: Path, city: Path, folder: Path, work: Path) -> None:
    env = {"SITEWATCH_LOOKS": str(looks)}
    assert sitewatch("watchlist", "--db", url, "add", city / "paris.geojson").returncode == 0
    assert sitewatch("watchlist", "--db", url, "rules", SITE, "--source", folder).returncode == 0
    result = sitewatch("watchlist", "--db", url, "run", SITE, *PERIOD, env=env)
    assert result.returncode == 0, result.stderr
    outline = box_polygon(2.30, 48.85, 2.31, 48.86)
    hostile = write_geojson(work / "hostile.geojson", outline, id="odd-1", name=HOSTILE_NAME)
    assert sitewatch("watchlist", "--db", url, "add", hostile).returncode == 0
    with open_store(url).session() as session:
        add_user(session, "ana", "analyst", PASSWORD, actor="test")
        add_user(session, "vic", "viewer", PASSWORD, actor="test")
        add_user(session, "hal", "analyst", PASSWORD, actor="test")  # for tests that must not touch ana's reviews
        add_user(session, "tess", "analyst", PASSWORD, actor="test")  # locked out by the sign-in throttle test


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def filled_store(request, scene_folder, tmp_path_factory):  # noqa: F811
    """(store URL, looks folder) after a real run, on SQLite and on PostgreSQL; one per test module."""
    city, folder = scene_folder
    work = tmp_path_factory.mktemp(f"workbench-{request.param}")
    url = new_store_url(request.param, work, request)
    fill_store(url, work / "looks", city, folder, work)
    return url, work / "looks"


class Workbench(ServerProcess):
    @classmethod
    def start(cls, store_url: str, looks: Path, log: Path) -> Workbench:
        port = free_port()
        cmd = [sys.executable, "-m", "sitewatch", "serve", "--db", store_url, "--port", str(port)]
        return cls.launch([*cmd, "--looks", str(looks)], port, "/healthz", log, "sitewatch serve")


@pytest.fixture(scope="module")
def workbench(filled_store, tmp_path_factory):
    """A running `sitewatch serve` on the filled store (shared by a module's tests: each signs in anew)."""
    store_url, looks = filled_store
    server = Workbench.start(store_url, looks, tmp_path_factory.mktemp("serve") / "serve.log")
    yield server, store_url
    server.stop()
