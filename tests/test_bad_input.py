"""A corpus of hostile and mistaken inputs, built by code from the sample data.

Every case runs the `sitewatch` command as a user would and must end the same way: exit
code 2, one `error:` line that names the input, no traceback, nothing written outside the
case's own output folder, and nothing lost from (or added to) the store. The corpus spans
site files, rasters, option values, store URLs, alert targets and output paths; the totals
are recorded in docs/reliability.md.
"""

from __future__ import annotations

import json
import os
import shutil
import zipfile
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
import rasterio
from rasterio.transform import from_origin
from sqlalchemy import func, select

from sitewatch.store import open_store
from sitewatch.store.models import Alert, Event, Review, Run, SiteRecord
from sitewatch.store.repo import add_review, record_run
from tests.cli.run import sitewatch
from tests.conftest import OSCD_IMAGES, box_polygon, write_geojson
from tests.store.test_repo import detected

pytestmark = pytest.mark.realdata  # the corpus is built from the OSCD sample

FUTURE = (date.today() + timedelta(days=30)).isoformat()
PARIS = (2.33, 48.84, 2.36, 48.86)  # a facility-sized box inside the OSCD Paris scene


@dataclass(frozen=True)
class Case:
    name: str
    args: tuple[str, ...]
    needle: str  # what the error line must say (the input it names)


@pytest.fixture(scope="module")
def ws(tmp_path_factory) -> Path:
    """The workspace: real imagery links, hostile files, a store with history."""
    if not (OSCD_IMAGES / "paris").is_dir():
        pytest.skip(f"real data not found at {OSCD_IMAGES}")
    root = tmp_path_factory.mktemp("corpus")
    paris = OSCD_IMAGES / "paris"
    (root / "before").symlink_to(paris / "imgs_1")
    (root / "after").symlink_to(paris / "imgs_2")
    write_geojson(root / "site.geojson", box_polygon(*PARIS), id="plant-1", name="Plant")
    _site_files(root)
    _rasters(root, paris)
    _store(root)
    (root / "out").mkdir()
    (root / "taken").mkdir()
    (root / "taken" / "report.html").write_text("someone's report")
    (root / "a-file").write_text("not a folder")
    return root


def _write(path: Path, text: str | bytes) -> Path:
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    return path


def _feature(geometry: dict, **props) -> dict:
    return {"type": "Feature", "properties": props, "geometry": geometry}


def _collection(*features: dict) -> str:
    return json.dumps({"type": "FeatureCollection", "features": list(features)})


def _site_files(root: Path) -> None:
    s = root / "sites"
    s.mkdir()
    poly = box_polygon(*PARIS)
    _write(s / "empty.geojson", "")
    _write(s / "notjson.geojson", "{ this is not json")
    _write(s / "array.geojson", "[1, 2, 3]")
    _write(s / "features-not-list.geojson", json.dumps({"type": "FeatureCollection", "features": {"a": 1}}))
    _write(s / "feature-not-object.geojson", json.dumps({"type": "FeatureCollection", "features": [1, 2]}))
    _write(
        s / "props-not-object.geojson",
        json.dumps(
            {"type": "FeatureCollection", "features": [{"type": "Feature", "properties": [1], "geometry": poly}]}
        ),
    )
    _write(s / "point.geojson", _collection(_feature({"type": "Point", "coordinates": [2.3, 48.8]})))
    _write(s / "line.geojson", _collection(_feature({"type": "LineString", "coordinates": [[2.3, 48.8], [2.4, 48.9]]})))
    _write(s / "zero-area.geojson", _collection(_feature(box_polygon(2.3, 48.8, 2.3, 48.8))))
    _write(s / "lon-range.geojson", _collection(_feature(box_polygon(200, 48.8, 201, 48.9))))
    _write(s / "swapped.geojson", _collection(_feature(box_polygon(48.8, 2.3, 48.9, 92.0))))
    _write(s / "projected.geojson", _collection(_feature(box_polygon(450000, 5400000, 451000, 5401000))))
    _write(
        s / "antimeridian.geojson",
        _collection(
            _feature(
                {
                    "type": "Polygon",
                    "coordinates": [[[179.9, -17.1], [-179.9, -17.1], [-179.9, -17.0], [179.9, -17.0], [179.9, -17.1]]],
                }
            )
        ),
    )
    _write(s / "huge.geojson", _collection(_feature(box_polygon(0, 40, 10, 50))))
    _write(
        s / "malformed-geometry.geojson",
        _collection({"type": "Feature", "properties": {}, "geometry": {"type": "Polygon"}}),
    )
    _write(
        s / "nan.geojson",
        '{"type": "Feature", "properties": {}, "geometry": {"type": "Polygon", '
        '"coordinates": [[[2.3, 48.8], [NaN, 48.8], [2.4, 48.9], [2.3, 48.8]]]}}',
    )
    _write(
        s / "crs-unknown.geojson",
        json.dumps(
            {"type": "FeatureCollection", "crs": {"properties": {"name": "EPSG:999999"}}, "features": [_feature(poly)]}
        ),
    )
    _write(s / "duplicate-ids.geojson", _collection(_feature(poly, id="a"), _feature(poly, id="a")))
    for name, site_id in (
        ("traversal", "../../../x"),
        ("absolute", "/etc/cron.d/x"),
        ("spaces", "my site"),
        ("dotdot", "a..b"),
        ("long", "x" * 150),
        ("unicode-slash", "a\u2215b"),
        ("newline", "a\nb"),
        ("nul", "a\x00b"),
    ):
        _write(s / f"id-{name}.geojson", _collection(_feature(poly, id=site_id)))
    _write(s / "sites.txt", "plant")
    (s / "folder.geojson").mkdir()
    _write(s / "bad.kml", "<kml><Document><Placemark><Polygon>")
    _write(
        s / "points.kml",
        '<kml xmlns="http://www.opengis.net/kml/2.2"><Document><Placemark><Point>'
        "<coordinates>2.3,48.8</coordinates></Point></Placemark></Document></kml>",
    )
    _write(s / "notzip.kmz", "PK not really a zip")
    _write(s / "bad.gpkg", "SQLite format 3\x00 but not really")
    with zipfile.ZipFile(s / "bomb.kmz", "w", zipfile.ZIP_DEFLATED) as archive:  # ~70 kB expanding to 80 MiB
        archive.writestr("doc.kml", b" " * (80 * 2**20))
    placemark = (
        "<Placemark><Polygon><outerBoundaryIs><LinearRing><coordinates>2.3,48.8 2.31,48.8 2.31,48.81 "
        "2.3,48.8</coordinates></LinearRing></outerBoundaryIs></Polygon></Placemark>"
    )
    with zipfile.ZipFile(s / "many.kmz", "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(
            "doc.kml",
            '<kml xmlns="http://www.opengis.net/kml/2.2"><Document>' + placemark * 25_000 + "</Document></kml>",
        )
    _write(s / "many.geojson", _collection(*[_feature(poly, id=f"s{i}") for i in range(20_001)]))


def _raster(path: Path, count: int, descriptions: list[str] | None = None, georef: bool = True) -> Path:
    profile = {"driver": "GTiff", "width": 64, "height": 64, "count": count, "dtype": "uint16"}
    if georef:
        profile.update(crs="EPSG:32631", transform=from_origin(450000, 5410000, 10, 10))
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(np.full((count, 64, 64), 1000, dtype="uint16"))
        for i, name in enumerate(descriptions or [], start=1):
            dst.set_band_description(i, name)
    return path


def _rasters(root: Path, paris: Path) -> None:
    r = root / "rasters"
    r.mkdir()
    os.mkfifo(r / "fifo.tif")
    (r / "empty-folder").mkdir()
    _write(r / "text.tif", "this is not a tiff")
    band = next((paris / "imgs_1").glob("*_B04.tif"))
    _write(r / "truncated.tif", band.read_bytes()[:2000])
    _raster(r / "nogeo.tif", 4, ["blue", "green", "red", "nir"], georef=False)
    _raster(r / "rgb.tif", 3, ["red", "green", "blue"])
    _raster(r / "four.tif", 4)
    devzero = r / "devzero"
    devzero.mkdir()
    for b in ("B02", "B03"):
        (devzero / f"x_{b}.tif").symlink_to(next((paris / "imgs_1").glob(f"*_{b}.tif")))
    (devzero / "x_B04.tif").symlink_to("/dev/zero")
    two = r / "two-unnamed"
    two.mkdir()
    _raster(two / "a.tif", 1)
    _raster(two / "b.tif", 1)
    dup = r / "duplicates"
    dup.mkdir()
    (dup / "x_B04.tif").symlink_to(band)
    (dup / "y_B04.tif").symlink_to(band)
    write_geojson(root / "elsewhere.geojson", box_polygon(13.78, 52.38, 13.82, 52.41), id="berlin")
    write_geojson(root / "rsite.geojson", box_polygon(2.319, 48.836, 2.327, 48.840), id="r-1")  # over the small rasters
    series = root / "series"  # a dated series of small rasters
    series.mkdir()
    for day in ("2016-01-05", "2016-02-05", "2017-01-05", "2017-02-05"):
        _raster(series / f"r_{day}.tif", 4, ["blue", "green", "red", "nir"])
    write_geojson(root / "two.geojson", box_polygon(*PARIS), id="one")


def _store(root: Path) -> None:
    db = f"sqlite:///{root / 'store.db'}"
    assert sitewatch("watchlist", "--db", db, "import", root / "site.geojson").returncode == 0
    with open_store(db).session() as session:
        run = record_run(session, "plant-1", {"s": 1}, {}, [detected(2.34)], datetime.now(UTC))
        add_review(session, run.new[0].id, "confirmed", "ana", "kept")
    _write(root / "notadb.db", "this is not a database")
    (root / "dbfolder.db").mkdir()


def _cases(ws: Path) -> list[Case]:
    s, r = ws / "sites", ws / "rasters"
    db = f"sqlite:///{ws / 'store.db'}"
    site, before, after = ws / "site.geojson", ws / "before", ws / "after"
    cases: list[Case] = []

    def add(name: str, needle: str, *args: object) -> None:
        cases.append(Case(name, tuple(str(a) for a in args), needle))

    # site files, checked and imported
    site_needles = {
        "empty.geojson": "not valid GeoJSON",
        "notjson.geojson": "not valid GeoJSON",
        "array.geojson": "not a GeoJSON object",
        "features-not-list.geojson": "'features' is not a list",
        "feature-not-object.geojson": "not a JSON object",
        "props-not-object.geojson": "properties are not",
        "point.geojson": "not a polygon",
        "line.geojson": "not a polygon",
        "zero-area.geojson": "no area",
        "lon-range.geojson": "out of range",
        "swapped.geojson": "swapped",
        "projected.geojson": "projected",
        "antimeridian.geojson": "antimeridian",
        "huge.geojson": "more than the limit",
        "malformed-geometry.geojson": "malformed geometry",
        "nan.geojson": "nan.geojson",
        "crs-unknown.geojson": "unknown crs",
        "duplicate-ids.geojson": "share the id",
        "id-traversal.geojson": "not allowed",
        "id-absolute.geojson": "not allowed",
        "id-spaces.geojson": "not allowed",
        "id-dotdot.geojson": "not allowed",
        "id-long.geojson": "not allowed",
        "id-unicode-slash.geojson": "not allowed",
        "id-newline.geojson": "not allowed",
        "id-nul.geojson": "not allowed",
        "sites.txt": "unknown site file type",
        "folder.geojson": "no such site file",
        "bad.kml": "bad.kml",
        "points.kml": "no polygon placemark",
        "notzip.kmz": "not a readable KMZ",
        "bad.gpkg": "bad.gpkg",
        "bomb.kmz": "larger than",
        "many.kmz": "more than 20,000",
        "many.geojson": "more than 20,000",
        "missing.geojson": "no such site file",
    }
    for name, needle in site_needles.items():
        add(f"sites check {name}", needle, "sites", "check", s / name)
    for name in ("id-traversal.geojson", "id-absolute.geojson", "bomb.kmz", "nan.geojson", "antimeridian.geojson"):
        add(f"watchlist import {name}", site_needles[name], "watchlist", "--db", db, "import", s / name)
        add(f"watchlist add {name}", site_needles[name], "watchlist", "--db", db, "add", s / name)
    add(
        "detect with a site file of traversal ids",
        "not allowed",
        "detect",
        s / "id-traversal.geojson",
        before,
        after,
        "--out",
        ws / "out" / "t1",
    )
    add(
        "monitor with a site file of absolute ids",
        "not allowed",
        "monitor",
        s / "id-absolute.geojson",
        "--from",
        "2016-01-01",
        "--to",
        "2017-12-31",
        "--source",
        before,
        "--out",
        ws / "out" / "t2",
    )

    # rasters
    def detect(name: str, needle: str, b: object = before, a: object = after, *extra: object) -> None:
        add(f"detect {name}", needle, "detect", site, b, a, "--out", ws / "out" / name.replace(" ", "-"), *extra)

    detect("missing before", "no such image", ws / "nothing")
    detect("fifo before", "not a regular file", r / "fifo.tif")
    detect("fifo after", "not a regular file", before, r / "fifo.tif")
    detect("dev zero band", "not a regular file", r / "devzero")
    detect("empty folder", "holds no raster files", r / "empty-folder")
    detect("text as tif", "cannot be read as a raster", r / "text.tif")
    detect("truncated tif", "truncated.tif", r / "truncated.tif", r / "truncated.tif")
    detect("not georeferenced", "nogeo.tif", r / "nogeo.tif", r / "nogeo.tif")
    detect("two unnamed files", "none named by band", r / "two-unnamed")
    detect("duplicate band files", "more than one file for band", r / "duplicates")
    rsite = ws / "rsite.geojson"

    def detect_small(name: str, needle: str, b: object, a: object, *extra: object) -> None:
        add(f"detect {name}", needle, "detect", rsite, b, a, "--out", ws / "out" / name.replace(" ", "-"), *extra)

    detect_small("bands count", "--bands names 2 bands", r / "four.tif", r / "four.tif", "--bands", "red,nir")
    detect("bands on a folder", "--bands applies to a multiband file", before, after, "--bands", "red,green")
    detect_small("index on rgb", "--method index needs", r / "rgb.tif", r / "rgb.tif", "--method", "index")
    detect_small("learned without nir", "needs the bands", r / "rgb.tif", r / "rgb.tif", "--method", "learned")
    add(
        "detect image not over the site",
        "does not overlap",
        "detect",
        ws / "elsewhere.geojson",
        before,
        after,
        "--out",
        ws / "out" / "elsewhere",
    )
    add(
        "detect site id not in file",
        "no site with id 'nope'",
        "detect",
        site,
        before,
        after,
        "--site",
        "nope",
        "--out",
        ws / "out" / "nope",
    )

    # option values
    values = [
        ("--resolution", "0", "--resolution"),
        ("--resolution", "-1", "--resolution"),
        ("--resolution", "nan", "--resolution"),
        ("--resolution", "inf", "--resolution"),
        ("--resolution", "0.01", "GiB"),
        ("--margin", "-5", "--margin"),
        ("--margin", "1e7", "--margin"),
        ("--margin", "nan", "--margin"),
        ("--min-area", "-1", "--min-area"),
        ("--min-area", "nan", "--min-area"),
        ("--min-area", "inf", "--min-area"),
        ("--smooth", "0", "--smooth"),
        ("--threshold-value", "nan", "finite"),
        ("--method", "magic", "'magic'"),
        ("--threshold", "magic", "'magic'"),
        ("--before-date", "yesterday", "not a date"),
        ("--before-date", FUTURE, "in the future"),
        ("--max-memory", "0", "--max-memory"),
        ("--max-memory", "-1", "--max-memory"),
        ("--model", ws / "nothing.onnx", "nothing.onnx: no such model file"),
        ("--max-area-km2", "0.001", "more than the limit"),
    ]
    for option, value, needle in values:
        detect(f"{option} {value}".replace("/", "_"), needle, before, after, option, value)
    detect("threshold fixed without value", "needs --threshold-value", before, after, "--threshold", "fixed")
    detect("reversed dates", "not before", before, after, "--before-date", "2017-01-01", "--after-date", "2016-01-01")
    detect("learned with otsu", "gives a probability", before, after, "--method", "learned", "--threshold", "otsu")
    detect("missing model", "nothing.onnx", before, after, "--method", "learned", "--model", ws / "nothing.onnx")
    detect(
        "model for cva", "--model is for --method learned", before, after, "--method", "cva", "--model", ws / "x.onnx"
    )
    detect("auto with a threshold", "name the detector", before, after, "--threshold-value", "3")
    detect("unknown option", "No such option", before, after, "--bogus")

    def monitor(name: str, needle: str, *extra: object, start: str = "2016-01-01", end: str = "2017-12-31") -> None:
        add(
            f"monitor {name}",
            needle,
            "monitor",
            rsite,
            "--from",
            start,
            "--to",
            end,
            "--source",
            ws / "series",
            "--out",
            ws / "out" / f"m-{name.replace(' ', '-')}",
            *extra,
        )

    monitor("bad from", "not a date", start="2016-13-01")
    monitor("future to", "in the future", end=FUTURE)
    monitor("reversed period", "is after", start="2018-01-01", end="2017-01-01")
    for option, value, needle in (
        ("--min-valid", "2", "--min-valid"),
        ("--min-obs", "0", "--min-obs"),
        ("--cloud-mask", "bogus", "'bogus'"),
        ("--composite", "weekly", "'weekly'"),
        ("--resolution", "0", "--resolution"),
        ("--max-scenes", "0", "--max-scenes"),
        ("--max-cloud", "-1", "--max-cloud"),
        ("--min-magnitude", "0", "--min-magnitude"),
        ("--max-shift", "-1", "--max-shift"),
        ("--margin", "1e9", "--margin"),
        ("--resolution", "0.01", "GiB"),
        ("--max-memory", "0", "--max-memory"),
    ):
        monitor(f"{option} {value}", needle, option, value)
    monitor("unknown preset", "is not a preset", "--source", "no-such-preset")
    add(
        "monitor folder without dated scenes",
        "no GeoTIFF/COG scenes",
        "monitor",
        site,
        "--from",
        "2016-01-01",
        "--to",
        "2017-12-31",
        "--source",
        r / "empty-folder",
        "--out",
        ws / "out" / "m-empty",
    )

    # the store and its commands
    wl = ("watchlist", "--db", db)
    ev = ("events", "--db", db)
    store_cases = [
        ("run without sites", "give --all", (*wl, "run")),
        ("run unknown site", "no site 'nowhere'", (*wl, "run", "nowhere")),
        ("run traversal id", "no site '../x'", (*wl, "run", "../x")),
        ("run future to", "in the future", (*wl, "run", "--all", "--to", FUTURE)),
        ("run reversed", "is after", (*wl, "run", "--all", "--from", "2018-01-01", "--to", "2017-01-01")),
        ("run bad from", "not a date", (*wl, "run", "--all", "--from", "soon")),
        ("rules unknown kind", "'built-up'", (*wl, "rules", "plant-1", "--kind", "built-up")),
        ("rules negative area", "--alert-min-area", (*wl, "rules", "plant-1", "--alert-min-area", "-1")),
        ("rules nan area", "--alert-min-area", (*wl, "rules", "plant-1", "--alert-min-area", "nan")),
        ("rules negative persistence", "--persistence", (*wl, "rules", "plant-1", "--persistence", "-1")),
        ("rules growth below one", "--dismiss-growth", (*wl, "rules", "plant-1", "--dismiss-growth", "0.5")),
        ("rules negative cloud", "--max-cloud", (*wl, "rules", "plant-1", "--max-cloud", "-1")),
        ("rules unknown site", "no site 'nope'", (*wl, "rules", "nope", "--persistence", "1")),
        ("rules bad secret env", "--secret-env", (*wl, "rules", "plant-1", "--secret-env", "A B")),
        ("rules missing secret file", "--secret-file", (*wl, "rules", "plant-1", "--secret-file", ws / "nothing")),
        ("rules both secrets", "not both", (*wl, "rules", "plant-1", "--secret-env", "A", "--secret-file", site)),
        ("show unknown", "no site 'nope'", (*wl, "show", "nope")),
        ("show control characters", "no site 'a", (*wl, "show", "a\x1b[31mb")),
        ("remove without yes", "--yes", (*wl, "remove", "plant-1")),
        ("remove unknown", "no site 'nope'", (*wl, "remove", "nope", "--yes")),
        ("restore active", "nothing to restore", (*wl, "restore", "plant-1")),
        ("add twice", "already in the store", (*wl, "add", site)),
        ("add with unknown site id", "no site with id 'nope'", (*wl, "add", site, "--site", "nope")),
        ("export nothing matching", "no site 'nope'", (*wl, "export", ws / "out" / "w.geojson", "--site", "nope")),
        ("review huge id", "is not an event id", (*ev, "review", "99999999999999999999", "--confirm")),
        ("review word", "is not an event id", (*ev, "review", "abc", "--confirm")),
        ("review zero", "is not an event id", (*ev, "review", "0", "--confirm")),
        ("review negative", "-3", (*ev, "review", "-3", "--confirm")),
        ("review unknown E id", "no event 99999", (*ev, "review", "E99999", "--confirm")),
        ("review unknown id", "no event 424242", (*ev, "review", "424242", "--dismiss")),
        ("review without verdict", "exactly one of", (*ev, "review", "1")),
        ("review two verdicts", "exactly one of", (*ev, "review", "1", "--confirm", "--dismiss")),
        ("events bad status", "'bogus'", (*ev, "list", "--status", "bogus")),
        ("events unknown site", "no site 'nope'", (*ev, "list", "--site", "nope")),
        ("report unknown site", "no site 'nope'", (*ev, "report", "nope", "--out", ws / "out" / "r.html")),
        ("export unknown site", "no site 'nope'", (*ev, "export", ws / "out" / "smart", "--site", "nope")),
        ("alerts retry bad id", "ALERT_ID", ("alerts", "--db", db, "retry", "x")),
    ]
    for name, needle, args in store_cases:
        add(name, needle, *args)

    # webhook targets (SSRF, credentials, schemes)
    for name, url, needle in (
        ("ftp", "ftp://example.org/x", "not an https URL"),
        ("no scheme", "example.org/hook", "not an https URL"),
        ("plain http", "http://example.org/hook", "plain http"),
        ("loopback", "https://127.0.0.1/hook", "127.0.0.1"),
        ("loopback v6", "https://[::1]/hook", "::1"),
        ("metadata", "https://169.254.169.254/latest/meta-data", "169.254.169.254"),
        ("private 10", "https://10.0.0.1/hook", "10.0.0.1"),
        ("private 192", "https://192.168.1.1/hook", "192.168.1.1"),
        ("private 172", "https://172.16.0.1/hook", "172.16.0.1"),
        ("multicast", "https://224.0.0.1/hook", "224.0.0.1"),
        ("unspecified", "https://0.0.0.0/hook", "0.0.0.0"),
        ("localhost name", "https://localhost/hook", "localhost"),
        ("credentials", "https://user:pw@example.org/hook", "credentials"),
        ("bad port", "https://example.org:99999/hook", "not a valid URL"),
        ("unresolvable", "https://no-such-host.invalid/hook", "does not resolve"),
    ):
        add(f"webhook {name}", needle, *wl, "rules", "plant-1", "--webhook", url)

    # store URLs
    for name, url, needle in (
        ("mysql", "mysql://u@h/db", "not supported"),
        ("garbage", "garbage", "not supported"),
        ("sqlite two slashes", "sqlite://relative.db", "not supported"),
        ("bad port", "postgresql://u@h:notaport/db", "malformed"),
        ("unreachable", "postgresql://postgres@127.0.0.1:1/none", "cannot be reached"),
        ("not a database", f"sqlite:///{ws / 'notadb.db'}", "cannot be reached or read"),
        ("a folder", f"sqlite:///{ws / 'dbfolder.db'}", "not a regular file"),
        ("under a file", f"sqlite:///{ws / 'a-file' / 'x.db'}", "cannot create it"),
    ):
        add(f"store url {name}", needle, "watchlist", "--db", url, "list")
    add(
        "store url with a password is masked",
        "u:***@h",
        "watchlist",
        "--db",
        "postgresql://u:hunter2@h:notaport/d",
        "list",
    )

    # output paths: --out is a file, holds someone's report, cannot be written, lies under a file
    period = ("--from", "2016-01-01", "--to", "2017-12-31", "--source", before)
    for name, out, needle in (
        ("out is a file", ws / "a-file", "not a folder"),
        ("out holds a report", ws / "taken", "already holds report.html"),
        ("out unwritable", "/proc/sitewatch-out", "cannot write there"),
        ("out under a file", ws / "a-file" / "x", "a-file"),
    ):
        add(f"detect {name}", needle, "detect", site, before, after, "--out", out)
        add(f"monitor {name}", needle, "monitor", site, *period, "--out", out)
    add("convert to unknown type", "unknown site file type", "sites", "convert", site, ws / "out" / "x.txt")
    return cases


def _snapshot(root: Path) -> dict[str, int]:
    files = {}
    for path in root.rglob("*"):
        if path.is_symlink() or not path.is_file():
            continue
        rel = path.relative_to(root).as_posix()
        if rel.startswith("store.db") or rel.startswith("out/"):
            continue
        files[rel] = path.stat().st_size
    return files


def _store_counts(ws: Path) -> tuple[int, ...]:
    with open_store(f"sqlite:///{ws / 'store.db'}").session() as session:
        return tuple(
            session.scalar(select(func.count()).select_from(t)) for t in (SiteRecord, Run, Event, Review, Alert)
        )


def test_the_corpus_is_large_enough(ws):
    cases = _cases(ws)
    assert len(cases) >= 120, len(cases)
    assert len({c.name for c in cases}) == len(cases)


def test_every_bad_input_gets_one_line_and_exit_2(ws):
    """All cases in one test: each is independent, and the report lists every one that failed."""
    before_files, before_store = _snapshot(ws), _store_counts(ws)
    problems = []
    for case in _cases(ws):
        result = sitewatch(*case.args)
        lines = [line for line in result.stderr.splitlines() if line.strip()]
        errors = [line for line in lines if line.startswith("error:")]
        stray = [line for line in lines if line not in errors and not line.startswith("✓")]
        if result.returncode != 2 or "Traceback" in result.stderr or len(errors) != 1 or stray:
            problems.append(f"{case.name}: exit {result.returncode}, stderr {result.stderr.strip()[:300]!r}")
        elif case.needle not in errors[0]:
            problems.append(f"{case.name}: {errors[0][:200]!r} does not say {case.needle!r}")
        elif any(ord(c) < 32 and c not in "\t" for c in errors[0]):
            problems.append(f"{case.name}: control characters reach the terminal: {errors[0]!r}")
        if _snapshot(ws) != before_files:
            problems.append(f"{case.name}: wrote outside its output folder")
            before_files = _snapshot(ws)
    assert _store_counts(ws) == before_store, "the store changed"
    outs = [p for p in (ws / "out").rglob("*") if p.is_file()]
    assert not outs, f"failed cases left files: {outs[:5]}"
    assert not problems, "\n".join(problems)
    assert not (Path("/etc/cron.d/x").exists() or (ws.parent / "x").exists())


def test_the_store_file_is_owner_only(tmp_path):
    db = tmp_path / "private" / "store.db"
    open_store(f"sqlite:///{db}")
    assert (db.stat().st_mode & 0o777) == 0o600
    assert (db.parent.stat().st_mode & 0o777) == 0o700


def test_site_names_reach_kml_and_the_terminal_inert(tmp_path):
    hostile = tmp_path / "hostile.geojson"
    write_geojson(
        hostile,
        box_polygon(*PARIS),
        id="h-1",
        name="<script>alert(1)</script>\x1b[31mred",
        notes='"><img src=x onerror=alert(1)>',
    )
    result = sitewatch("sites", "convert", hostile, tmp_path / "h.kml")
    assert result.returncode == 0, result.stderr
    kml = (tmp_path / "h.kml").read_text()
    assert "<script>" not in kml and "<img" not in kml and "\x1b" not in kml
    listed = sitewatch("sites", "check", tmp_path / "h.kml")
    assert "\x1b" not in listed.stdout and "alert(1)" in listed.stdout  # shown as text


def test_a_site_outside_out_is_never_written(ws, tmp_path):
    """Even a store holding an unsafe id (written by an older version) cannot write outside --out."""
    db = tmp_path / "old.db"
    shutil.copy(ws / "store.db", db)
    with open_store(f"sqlite:///{db}").session() as session:
        plant = session.get(SiteRecord, "plant-1")
        session.add(SiteRecord(id="../escape", name="old", geometry_wkt=plant.geometry_wkt))  # no check on this path
        session.commit()
    for args in (("run", "--all"), ("run", "../escape")):
        result = sitewatch(
            "watchlist", "--db", f"sqlite:///{db}", *args, "--out", tmp_path / "out", "--to", "2020-01-01"
        )
        assert result.returncode == 2 and "../escape" in result.stderr, result.stderr
    assert not (tmp_path / "escape").exists() and not (tmp_path / "out").exists()
