import pytest
from shapely.geometry import LineString, Point, Polygon, box

from sitewatch.base.errors import InputError
from sitewatch.sites import check_geometry

# A 1 km x ~1.1 km block in Tehran's south (lon, lat).
BLOCK = box(51.40, 35.60, 51.41, 35.61)


def test_valid_polygon_area_is_measured_in_utm():
    checked = check_geometry(BLOCK, "site")
    # 0.01 deg lon x 0.01 deg lat at 35.6N is about 905 m x 1109 m.
    assert checked.area_m2 == pytest.approx(905 * 1109, rel=0.01)
    assert checked.repairs == []


def test_empty_and_missing_geometry_are_refused():
    with pytest.raises(InputError, match="no polygon"):
        check_geometry(None, "site")
    with pytest.raises(InputError, match="no polygon"):
        check_geometry(Polygon(), "site")


def test_zero_area_polygon_is_refused():
    flat = Polygon([(51.4, 35.6), (51.41, 35.6), (51.42, 35.6), (51.4, 35.6)])
    with pytest.raises(InputError, match="no area"):
        check_geometry(flat, "site")


def test_points_and_lines_are_not_sites():
    with pytest.raises(InputError, match="not a polygon"):
        check_geometry(Point(51.4, 35.6), "site")
    with pytest.raises(InputError, match="not a polygon"):
        check_geometry(LineString([(51.4, 35.6), (51.5, 35.7)]), "site")


def test_self_intersecting_polygon_is_repaired_and_reported():
    bowtie = Polygon([(51.40, 35.60), (51.41, 35.61), (51.41, 35.60), (51.40, 35.61), (51.40, 35.60)])
    checked = check_geometry(bowtie, "site")
    assert checked.geometry.is_valid
    assert checked.repairs and "Self-intersection" in checked.repairs[0]
    assert checked.area_m2 > 0


def test_self_intersecting_polygon_is_refused_without_repair():
    bowtie = Polygon([(51.40, 35.60), (51.41, 35.61), (51.41, 35.60), (51.40, 35.61), (51.40, 35.60)])
    with pytest.raises(InputError, match="invalid polygon"):
        check_geometry(bowtie, "site", repair=False)


def test_swapped_lat_lon_is_detected():
    # Sydney written lat, lon: (-33.86, 151.21) -> "latitude" 151 is impossible.
    swapped = box(-33.87, 151.20, -33.86, 151.21)
    with pytest.raises(InputError, match="swapped"):
        check_geometry(swapped, "site")


def test_out_of_range_and_projected_coordinates():
    with pytest.raises(InputError, match="out of range"):
        check_geometry(box(181, 10, 182, 11), "site")
    with pytest.raises(InputError, match="projected"):
        check_geometry(box(500000, 3900000, 501000, 3901000), "site")


def test_area_limit_is_configurable():
    province = box(50, 35, 52, 37)
    with pytest.raises(InputError, match="more than the limit"):
        check_geometry(province, "site")
    assert check_geometry(province, "site", max_area_km2=None).area_m2 > 30_000e6
