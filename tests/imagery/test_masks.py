"""Quality masks: which Sentinel-2 SCL classes and Landsat QA_PIXEL bits count as valid."""

import numpy as np
import pytest

from sitewatch.imagery.masks import qa_pixel_valid, scl_valid, valid_from_mask_band


def test_scl_keeps_clear_land_and_water_only():
    scl = np.arange(12, dtype="float32")
    assert np.flatnonzero(scl_valid(scl)).tolist() == [2, 4, 5, 6, 7]
    assert not scl_valid(np.array([np.nan]))[0]  # no data


def test_qa_pixel_bits():
    clear = 0b0101_0100_0000  # clear + low-confidence bits only (bit 6 clear, 8/10 confidence)
    cloud = 1 << 3
    shadow = 1 << 4
    fill = 1
    valid = qa_pixel_valid(np.array([clear, cloud, shadow, fill, clear | cloud], dtype="uint16"))
    assert valid.tolist() == [True, False, False, False, False]


def test_mask_band_by_name():
    assert valid_from_mask_band(np.array([4.0]), "SCL")[0]
    with pytest.raises(ValueError, match="unknown quality band"):
        valid_from_mask_band(np.array([0]), "fmask")
