"""Shared fixtures: where the real data lives, and small site files.

Real imagery is read from ../shared/data (or SITEWATCH_DATA); it is never copied into the
repository. Tests that judge detection need it and are skipped, loudly, when it is absent.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

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
