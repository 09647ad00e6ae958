"""Evidence bundles from a real watchlist run (the OSCD Paris series): they verify, any change
to them is named, they are deterministic, their runs can be redone, and the brief says it all."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
from pathlib import Path

import numpy as np
import pytest
import rasterio
from PIL import Image
from pypdf import PdfReader

from sitewatch.bench.series import write_dated_series
from sitewatch.evidence.uncertainty import area_uncertainty_m2
from tests.cli.run import sitewatch

PERIOD = ("--from", "2016-10-01", "--to", "2017-12-31")
SITE = "oscd-paris"


@pytest.fixture(scope="module")
def made(oscd_city, tmp_path_factory):
    """(bundle of three events, store URL, work folder, environment) after a real run."""
    work = tmp_path_factory.mktemp("evidence")
    site_file, scenes = write_dated_series(oscd_city("paris"), work)  # its own copy: a test removes a scene
    db = f"sqlite:///{work / 'store.db'}"
    env = {"SITEWATCH_DB": db}
    assert sitewatch("watchlist", "add", site_file, env=env).returncode == 0
    assert sitewatch("watchlist", "rules", SITE, "--source", scenes, env=env).returncode == 0
    assert sitewatch("watchlist", "run", SITE, *PERIOD, env=env).returncode == 0
    assert (
        sitewatch("events", "review", "E2", "--dismiss", "--reason", "water", "--note", "pond", env=env).returncode == 0
    )
    keys = sitewatch("keys", "new", "--out", work / "keys")
    assert keys.returncode == 0, keys.stderr
    key = ("--key", work / "keys" / "sitewatch-signing.key")
    result = sitewatch("evidence", "1", "2", "3", "--out", work / "bundle", *key, env=env)
    assert result.returncode == 0, result.stderr
    return work / "bundle", env, work, key


def _verify(bundle: Path, *extra):
    return sitewatch("verify", bundle, *extra)


def test_a_bundle_verifies_and_holds_what_it_says(made):
    bundle, _, work, _ = made
    result = _verify(bundle)
    assert result.returncode == 0 and "every checksum and the signature hold" in result.stdout
    assert stat.S_IMODE(os.stat(work / "keys" / "sitewatch-signing.key").st_mode) == 0o600
    events = json.loads((bundle / "data/events.geojson").read_text())["features"]
    assert [e["properties"]["label"] for e in events] == ["E0001", "E0002", "E0003"]
    for event in events:
        props = event["properties"]
        assert 0 < props["area_uncertainty_m2"] < props["inside_m2"]
        assert f"± {props['area_uncertainty_m2']:,.0f} m²" in props["area_text"]
    with rasterio.open(bundle / "data/score-run-1.tif") as score:
        assert score.descriptions == ("change_magnitude", "change_mask") and score.crs.is_projected
        assert np.nanmax(score.read(2)) == 1  # the changed pixels are in the map
    chips = sorted((bundle / "data/chips/E0001").glob("*.tif"))
    assert len(chips) == 8  # every look of the run
    scenes = sorted((bundle / "data/scenes").glob("*.json"))
    items = [json.loads(p.read_text()) for p in scenes]
    assert len(items) == 8 and all(i["type"] == "Feature" and i["stac_version"] for i in items)
    local = [i for i in items if "file:checksum" in i["properties"]]
    assert local and all(Path(i["assets"]["data"]["href"]).is_file() for i in local)
    provenance = json.loads((bundle / "data/provenance.json").read_text())
    assert provenance["runs"][0]["reproduce"][:3] == ["sitewatch", "monitor", "data/site.geojson"]
    assert len(provenance["runs"][0]["looks"]) == 8


def test_two_bundles_of_one_finding_differ_only_in_the_signature(made):
    bundle, env, work, key = made
    again = work / "again"
    assert sitewatch("evidence", "1", "2", "3", "--out", again, *key, env=env).returncode == 0
    first = {p.relative_to(bundle): p.read_bytes() for p in bundle.rglob("*") if p.is_file()}
    second = {p.relative_to(again): p.read_bytes() for p in again.rglob("*") if p.is_file()}
    assert first.keys() == second.keys()
    assert [str(p) for p in first if first[p] != second[p]] in ([], ["signature.json"])
    refused = sitewatch("evidence", "1", "--out", again, *key, env=env)
    assert refused.returncode == 2 and "exists already" in refused.stderr


def _tampered(bundle: Path, tmp_path: Path, name: str) -> Path:
    copy = tmp_path / name.replace("/", "_")
    shutil.copytree(bundle, copy)
    return copy


def test_any_changed_missing_or_added_file_is_named(made, tmp_path):
    bundle, *_ = made
    files = sorted(p.relative_to(bundle) for p in bundle.rglob("*") if p.is_file())
    assert len(files) > 30
    for relative in files:
        copy = _tampered(bundle, tmp_path, f"byte-{relative}")
        target = copy / relative
        data = bytearray(target.read_bytes())
        data[len(data) // 2] ^= 0x01  # one byte
        target.write_bytes(bytes(data))
        result = _verify(copy)
        said = result.stdout + result.stderr
        assert result.returncode == 2 and "Traceback" not in said, relative
        if relative.name != "signature.json":
            assert str(relative) in said or relative.name in said, (relative, said)
        else:
            assert "signature" in said
        shutil.rmtree(copy)
    removed = _tampered(bundle, tmp_path, "removed")
    (removed / "data/events.kml").unlink()
    said = _verify(removed)
    assert said.returncode == 2 and "data/events.kml: missing" in said.stdout + said.stderr
    for extra in ("data/extra.txt", "notes.txt"):
        added = _tampered(bundle, tmp_path, f"added-{extra}")
        (added / extra).write_text("added later")
        said = _verify(added)
        assert said.returncode == 2 and extra in said.stdout + said.stderr and "added after signing" in said.stderr


def test_a_swapped_or_unexpected_key_is_refused(made, tmp_path):
    bundle, _, work, _ = made
    assert sitewatch("keys", "new", "--out", tmp_path / "other").returncode == 0
    other = tmp_path / "other" / "sitewatch-signing.pub"
    swapped = _tampered(bundle, tmp_path, "swapped")
    shutil.copy(other, swapped / "public-key.pem")
    said = _verify(swapped)
    assert said.returncode == 2 and "public-key.pem" in said.stdout + said.stderr
    assert _verify(bundle, "--key", work / "keys" / "sitewatch-signing.pub").returncode == 0
    wrong = _verify(bundle, "--key", other)
    assert wrong.returncode == 2 and "not the expected" in wrong.stderr


def test_the_brief_carries_dates_areas_checksums_and_reviews(made, tmp_path):
    bundle, *_ = made
    pdf = bundle / "data/brief.pdf"
    reader = PdfReader(pdf)
    text = "\n".join(page.extract_text() for page in reader.pages)
    flat = "".join(text.split())
    events = [f["properties"] for f in json.loads((bundle / "data/events.geojson").read_text())["features"]]
    for e in events:
        assert e["label"] in text and e["before_date"] in text and e["after_date"] in text
        assert f"{e['inside_m2']:,.0f}±{e['area_uncertainty_m2']:,.0f}m²" in flat
    scene = json.loads(next((bundle / "data/scenes").glob("*.json")).read_text())
    assert scene["properties"]["file:checksum"][4:] in flat  # the SHA-256 of what was read
    assert "pond" in text and "water" in text  # E0002's dismissal and its reason
    assert len(reader.pages) == 1 + len(events) + 1 or len(reader.pages) >= len(events) + 2
    # the pages, as a reader's viewer draws them (Debian's pdftoppm): each has content
    subprocess.run(["pdftoppm", "-r", "50", "-png", str(pdf), str(tmp_path / "page")], check=True, timeout=120)
    pages = sorted(tmp_path.glob("page-*.png"))
    assert len(pages) == len(reader.pages)
    for page in pages:
        pixels = np.asarray(Image.open(page).convert("L"), dtype=float)
        assert pixels.std() > 5, page.name  # not blank


def test_the_runs_are_redone_and_match(made, tmp_path):
    bundle, _, _work, _ = made
    result = _verify(bundle, "--reproduce")
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("reproduced (IoU 1.000") == 3
    # an input gone: said, with why, and exit 2
    moved = _tampered(bundle, tmp_path, "inputs-gone")
    provenance = json.loads((moved / "data/provenance.json").read_text())
    first_scene = provenance["runs"][0]["inputs"]["scenes"][0]["source"]
    hidden = Path(first_scene).with_suffix(".hidden")
    os.replace(first_scene, hidden)
    try:
        said = _verify(moved, "--reproduce")
    finally:
        os.replace(hidden, first_scene)
    assert said.returncode == 2 and f"input {first_scene} is missing" in said.stdout + said.stderr


def test_area_uncertainty_of_a_square():
    from shapely.geometry import box

    square = box(2.0, 48.0, 2.0 + 100 / 74_400, 48.0 + 100 / 111_200)  # about 100 m x 100 m
    error = area_uncertainty_m2(square, pixel_m=10, shift_px=0.5)
    assert error == pytest.approx(400 * 10 * (1 / 12**0.5 + 0.25), rel=0.02)  # perimeter x pixel x shares
    assert area_uncertainty_m2(square, pixel_m=1000, shift_px=5) == pytest.approx(square_area(square), rel=0.02)


def square_area(square) -> float:
    from sitewatch.base.geo import WGS84, reproject_geometry, utm_crs_for

    return reproject_geometry(square, WGS84, utm_crs_for(square.centroid.x, square.centroid.y)).area


def test_bad_input_is_one_line(made, tmp_path):
    from tests.cli.run import assert_one_line_error

    _, env, work, key = made
    assert_one_line_error(sitewatch("verify", tmp_path / "nothing"), "no such bundle folder")
    assert_one_line_error(sitewatch("verify", tmp_path), "not a BagIt bundle")
    assert_one_line_error(sitewatch("evidence", "99999", "--out", tmp_path / "b", *key, env=env), "no event 99999")
    assert_one_line_error(
        sitewatch("evidence", "E1", "--site", SITE, "--out", tmp_path / "b", *key, env=env), "not both"
    )
    no_key = sitewatch("evidence", "1", "--out", tmp_path / "b", "--key", tmp_path / "none.key", env=env)
    assert_one_line_error(no_key, "sitewatch keys new")
    (tmp_path / "bad.key").write_text("not a key")
    assert_one_line_error(
        sitewatch("evidence", "1", "--out", tmp_path / "b", "--key", tmp_path / "bad.key", env=env), "PEM"
    )
    assert_one_line_error(sitewatch("keys", "new", "--out", work / "keys"), "holds a key pair already")
    assert not (tmp_path / "b").exists()
