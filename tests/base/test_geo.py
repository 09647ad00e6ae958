import pytest
from shapely.geometry import box

from sitewatch.base.geo import WGS84, metres_per_degree, reproject_geometry, utm_crs_for, utm_zone


def test_utm_zones_including_exceptions():
    assert utm_zone(-48.1, -15.8) == 22
    assert utm_zone(54.5, 24.3) == 40
    assert utm_zone(5.0, 60.0) == 32  # south-west Norway
    assert utm_zone(15.0, 78.0) == 33  # Svalbard
    assert utm_crs_for(2.33, 48.86).to_epsg() == 32631
    assert utm_crs_for(151.2, -33.9).to_epsg() == 32756


def test_metres_per_degree():
    lon_m, lat_m = metres_per_degree(0.0)
    assert lon_m == pytest.approx(111_319.5, abs=1) and lat_m == pytest.approx(110_574.4, abs=1)
    lon_m, lat_m = metres_per_degree(60.0)
    assert lon_m == pytest.approx(55_800, rel=1e-3) and lat_m == pytest.approx(111_412, rel=1e-3)


def test_reproject_geometry_round_trip():
    square = box(2.30, 48.80, 2.31, 48.81)
    utm = reproject_geometry(square, WGS84, "EPSG:32631")
    assert utm.area == pytest.approx(734 * 1112, rel=0.01)  # 0.01 deg x 0.01 deg at 48.8 N
    back = reproject_geometry(utm, "EPSG:32631", WGS84)
    assert back.symmetric_difference(square).area < 1e-14
