import numpy as np

from sitewatch.detect.cleanup import clean_mask, min_pixels, nan_mean_filter, remove_small_regions


def test_min_pixels_from_square_metres():
    assert min_pixels(500, 100) == 5
    assert min_pixels(500, 900) == 1
    assert min_pixels(0, 100) == 1
    assert min_pixels(400, 100) == 4


def test_small_regions_go_diagonal_neighbours_stay_together():
    mask = np.zeros((10, 10), bool)
    mask[1, 1] = True  # 1 px
    mask[5, 5] = mask[6, 6] = mask[7, 7] = True  # 3 px joined at corners (8-connected)
    out = remove_small_regions(mask, 3)
    assert not out[1, 1] and out[5, 5] and out[7, 7]


def test_clean_mask_minimum_mapping_unit_in_m2():
    mask = np.zeros((20, 20), bool)
    mask[2:4, 2:4] = True  # 4 px = 400 m2 at 10 m
    mask[10:13, 10:13] = True  # 9 px = 900 m2
    out = clean_mask(mask, 100.0, min_area_m2=500)
    assert out.sum() == 9
    assert clean_mask(mask, 100.0, min_area_m2=0).sum() == 13


def test_opening_removes_lines_closing_fills_holes():
    mask = np.zeros((20, 20), bool)
    mask[5:15, 5:15] = True
    mask[9, 9] = False  # a hole
    mask[0, :] = True  # a one-pixel line
    opened = clean_mask(mask, 1.0, opening_radius=1)
    assert not opened[0].any()
    closed = clean_mask(mask, 1.0, closing_radius=1)
    assert closed[9, 9]


def test_nan_mean_filter_ignores_and_keeps_nan():
    values = np.ones((5, 5), "float32")
    values[2, 2] = np.nan
    values[0, 0] = 10
    out = nan_mean_filter(values, 3)
    assert np.isnan(out[2, 2])
    assert out[1, 1] == np.float32((10 + 7) / 8)  # the NaN neighbour is not counted
    assert nan_mean_filter(values, 1) is values
