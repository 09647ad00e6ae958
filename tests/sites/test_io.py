import json
import zipfile

import pytest
from pyproj import Transformer
from shapely.geometry import box

from sitewatch.base.errors import InputError
from sitewatch.sites import Site, read_sites, write_sites
from tests.conftest import box_polygon, write_geojson


def _site() -> Site:
    return Site(
        id="khojir-plant-2",
        name="Khojir <Plant 2> & annex",
        geometry=box(51.80, 35.65, 51.82, 35.67),
        aliases=["Plant No. 2", "Alias; with semicolon"],
        parent="khojir-complex",
        country="IR",
        tags=["missile", "solid-propellant"],
        notes="Line one\nLine two",
        sources=["https://example.org/a"],
    )


@pytest.mark.parametrize("suffix", [".geojson", ".kml", ".kmz", ".gpkg"])
def test_round_trip_keeps_every_field(tmp_path, suffix):
    path = write_sites([_site()], tmp_path / f"sites{suffix}")
    back = read_sites(path).sites
    assert len(back) == 1
    got, want = back[0], _site()
    for field in ("id", "name", "aliases", "parent", "country", "tags", "notes", "sources"):
        assert getattr(got, field) == getattr(want, field), field
    assert got.geometry.symmetric_difference(want.geometry).area < 1e-12


def test_kmz_is_a_zip_with_kml(tmp_path):
    path = write_sites([_site()], tmp_path / "sites.kmz")
    with zipfile.ZipFile(path) as archive:
        assert any(name.endswith(".kml") for name in archive.namelist())


def test_google_earth_kml_with_folders_points_and_multigeometry(tmp_path):
    kml = tmp_path / "earth.kml"
    kml.write_text("""<?xml version="1.0" encoding="UTF-8"?>
<kml xmlns="http://www.opengis.net/kml/2.2"><Document><name>watch</name>
<Folder><name>plants</name>
<Placemark><name>Plant A</name><description>Main hall</description>
<Polygon><outerBoundaryIs><LinearRing><coordinates>
51.0,35.0,0 51.01,35.0,0 51.01,35.01,0 51.0,35.01,0 51.0,35.0,0
</coordinates></LinearRing></outerBoundaryIs></Polygon></Placemark>
<Placemark><name>a pin</name><Point><coordinates>51,35</coordinates></Point></Placemark>
</Folder>
<Placemark><name>Plant B</name><MultiGeometry><Polygon><outerBoundaryIs><LinearRing>
<coordinates>52.0,35.0 52.01,35.0 52.01,35.01 52.0,35.0</coordinates>
</LinearRing></outerBoundaryIs></Polygon></MultiGeometry></Placemark>
</Document></kml>""")
    sites = {s.name: s for s in read_sites(kml).sites}
    assert set(sites) == {"Plant A", "Plant B"}  # the pin is not a site
    assert sites["Plant A"].notes == "Main hall"
    assert sites["Plant A"].id == "plant-a"
    assert sites["Plant A"].area_m2 == pytest.approx(1.0e6, rel=0.1)


def test_kml_without_polygon_is_a_clear_error(tmp_path):
    kml = tmp_path / "pins.kml"
    kml.write_text("""<?xml version="1.0"?><kml xmlns="http://www.opengis.net/kml/2.2"><Document>
<Placemark><name>pin</name><Point><coordinates>51,35</coordinates></Point></Placemark>
</Document></kml>""")
    with pytest.raises(InputError, match="no polygon placemark"):
        read_sites(kml)


def test_malformed_kml_is_a_clear_error(tmp_path):
    kml = tmp_path / "broken.kml"
    kml.write_text("<kml><Document><Placemark><name>x</name>")
    with pytest.raises(InputError, match=r"broken\.kml"):
        read_sites(kml)


def test_geojson_variants(tmp_path):
    bare = tmp_path / "bare.geojson"
    bare.write_text(json.dumps(box_polygon(10.0, 43.7, 10.01, 43.71)))
    assert read_sites(bare).sites[0].id == "bare-1"
    feature = tmp_path / "feature.geojson"
    feature.write_text(
        json.dumps(
            {
                "type": "Feature",
                "id": "f1",
                "properties": {"tags": "a; b"},
                "geometry": box_polygon(10.0, 43.7, 10.01, 43.71),
            }
        )
    )
    site = read_sites(feature).sites[0]
    assert (site.id, site.tags) == ("f1", ["a", "b"])


def test_legacy_crs_member_is_reprojected(tmp_path):
    # The same box given in Web Mercator metres with a pre-RFC 7946 "crs" member.
    to_mercator = Transformer.from_crs("EPSG:4326", "EPSG:3857", always_xy=True)
    west_m, south_m = to_mercator.transform(10.0, 43.7)
    east_m, north_m = to_mercator.transform(10.01, 43.71)
    doc = {
        "type": "FeatureCollection",
        "crs": {"type": "name", "properties": {"name": "EPSG:3857"}},
        "features": [
            {"type": "Feature", "properties": {"name": "m"}, "geometry": box_polygon(west_m, south_m, east_m, north_m)}
        ],
    }
    path = tmp_path / "mercator.geojson"
    path.write_text(json.dumps(doc))
    west, south, _, _ = read_sites(path).sites[0].geometry.bounds
    assert west == pytest.approx(10.0, abs=1e-6) and south == pytest.approx(43.7, abs=1e-6)


def test_bad_files(tmp_path):
    with pytest.raises(InputError, match="no such site file"):
        read_sites(tmp_path / "missing.geojson")
    with pytest.raises(InputError, match="unknown site file type"):
        read_sites(tmp_path / "sites.shp")
    broken = tmp_path / "broken.geojson"
    broken.write_text("{not json")
    with pytest.raises(InputError, match="not valid GeoJSON"):
        read_sites(broken)
    empty = tmp_path / "empty.geojson"
    empty.write_text(json.dumps({"type": "FeatureCollection", "features": []}))
    with pytest.raises(InputError, match="no feature"):
        read_sites(empty)


def test_duplicate_ids_and_site_selection(tmp_path):
    path = tmp_path / "two.geojson"
    features = [
        {"type": "Feature", "properties": {"id": i, "name": i}, "geometry": box_polygon(10.0, 43.7, 10.01, 43.71)}
        for i in ("a", "b")
    ]
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}))
    site_file = read_sites(path)
    assert site_file.get("b").name == "b"
    with pytest.raises(InputError, match="pick one with --site-id"):
        site_file.get(None)
    with pytest.raises(InputError, match="no site with id 'c'"):
        site_file.get("c")
    features[1]["properties"]["id"] = "a"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}))
    with pytest.raises(InputError, match="share the id"):
        read_sites(path)


def test_validation_applies_when_reading(tmp_path):
    swapped = write_geojson(tmp_path / "swapped.geojson", box_polygon(-33.87, 151.20, -33.86, 151.21))
    with pytest.raises(InputError, match="swapped"):
        read_sites(swapped)
    bowtie = write_geojson(
        tmp_path / "bowtie.geojson",
        {
            "type": "Polygon",
            "coordinates": [[[51.40, 35.60], [51.41, 35.61], [51.41, 35.60], [51.40, 35.61], [51.40, 35.60]]],
        },
    )
    site_file = read_sites(bowtie)
    assert site_file.repairs and site_file.sites[0].geometry.is_valid
