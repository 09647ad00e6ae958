"""IARPA SMART site-model export: MGRS tiles and the model's structure."""

import pytest

from sitewatch.store.smart import mgrs_100km


@pytest.mark.parametrize(
    ("lon", "lat", "expected"),
    [
        (13.40, 52.52, "33UUU"),  # Berlin
        (-77.0365, 38.8977, "18SUJ"),  # White House
        (2.2945, 48.8584, "31UDQ"),  # Eiffel Tower (OSCD Paris tiles are T31UDQ)
        (151.2153, -33.8568, "56HLH"),  # Sydney Opera House
    ],
)
def test_mgrs(lon, lat, expected):
    assert mgrs_100km(lon, lat) == expected
