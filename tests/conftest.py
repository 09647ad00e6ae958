"""Shared fixtures: where the real data lives, the store on both databases, small site files,
and the test lanes.

Real imagery is read from ../shared/data (or SITEWATCH_DATA); it is never copied into the
repository. Tests that judge detection need it and are skipped, loudly, when it is absent.

Lanes: each test is marked by what it uses, so `-m` can pick a lane (`make test-fast`
runs `not realdata and not server and not training and not slow`):
`realdata` (reads ../shared/data), `server` (starts PostgreSQL or the STAC API),
`training` (PyTorch), `slow` (marked by hand where a test alone takes more than ~20 s).
"""

from __future__ import annotations

import itertools
import json
import os
from pathlib import Path

import pytest

from tests.servers.harness import PostgresServer

REPO = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("SITEWATCH_DATA", REPO.parent / "shared" / "data"))
OSCD = DATA / "oscd"
OSCD_IMAGES = OSCD / "Onera Satellite Change Detection dataset - Images"
LANDSAT = DATA / "landsat-cd"


def _require(path: Path) -> Path:
    if not path.exists():
        pytest.skip(f"real data not found at {path} (set SITEWATCH_DATA)")
    return path


@pytest.fixture(scope="session")
def oscd_root() -> Path:
    return _require(OSCD)


@pytest.fixture(scope="session")
def landsat_root() -> Path:
    return _require(LANDSAT)


@pytest.fixture(scope="session")
def oscd_city():
    """Folder of one OSCD city: oscd_city('paris')."""

    def get(name: str) -> Path:
        return _require(OSCD_IMAGES / name)

    return get


def write_geojson(path: Path, geometry: dict, **properties) -> Path:
    doc = {
        "type": "FeatureCollection",
        "features": [{"type": "Feature", "properties": properties, "geometry": geometry}],
    }
    path.write_text(json.dumps(doc))
    return path


def box_polygon(west: float, south: float, east: float, north: float) -> dict:
    return {
        "type": "Polygon",
        "coordinates": [[[west, south], [east, south], [east, north], [west, north], [west, south]]],
    }


_counter = itertools.count()


@pytest.fixture(scope="session")
def postgres():
    server = PostgresServer.start()
    yield server
    server.stop()


def new_store_url(kind: str, folder: Path, request) -> str:
    """A new empty store: a SQLite file in `folder`, or a new database on the test PostgreSQL."""
    if kind == "sqlite":
        return f"sqlite:///{folder / 'store.db'}"
    import psycopg

    server = request.getfixturevalue("postgres")
    name = f"store_{next(_counter)}"
    with psycopg.connect(server.dsn, autocommit=True) as connection:
        connection.execute(f"CREATE DATABASE {name}")
    return f"postgresql://postgres@127.0.0.1:{server.port}/{name}"


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request, tmp_path):
    """Every store test runs twice: on a SQLite file and on a real PostgreSQL on 127.0.0.1."""
    return new_store_url(request.param, tmp_path, request)


REAL_DATA_FIXTURES = {"oscd_root", "landsat_root", "oscd_city"}
SERVER_FIXTURES = {"postgres", "stack", "stac_api", "workbench"}


def pytest_collection_modifyitems(config, items):
    """Mark each test by what it uses: its lane follows from its fixtures and its folder."""
    for item in items:
        names = set(getattr(item, "fixturenames", ()))
        params = getattr(getattr(item, "callspec", None), "params", {})
        if names & REAL_DATA_FIXTURES:
            item.add_marker(pytest.mark.realdata)
        if names & SERVER_FIXTURES or "postgresql" in (params.get("store_url"), params.get("filled_store")):
            item.add_marker(pytest.mark.server)
        if "tests/train/" in str(item.path).replace(os.sep, "/"):
            item.add_marker(pytest.mark.training)
