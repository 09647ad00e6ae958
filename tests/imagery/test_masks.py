"""Quality masks: which Sentinel-2 SCL classes and Landsat QA_PIXEL bits count as valid."""

import numpy as np
import pytest

from sitewatch.imagery.masks import qa_pixel_valid, s2cloudless_valid, scl_valid, valid_from_mask_band


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


@pytest.fixture(scope="module")
def bercy(oscd_root):
    from sitewatch.bench import oscd_scenes
    from sitewatch.imagery import load_pair

    scene = next(oscd_scenes(oscd_root, ["bercy"]))
    return load_pair(scene.before, scene.after, geobox=scene.geobox)


def test_s2cloudless_leaves_bright_city_roofs_alone(bercy):
    """Bercy 2016 is cloud-free but full of bright roofs (s2cloudless's default 0.4 masks 16 %)."""
    valid = s2cloudless_valid(bercy.before.values, bercy.bands)
    assert valid.mean() > 0.95


def test_s2cloudless_masks_a_cloud(bercy):
    image = bercy.before.values.copy()
    bands = bercy.bands
    cloud = {
        "coastal": 4500,
        "blue": 4800,
        "green": 4700,
        "red": 4800,
        "rededge071": 4900,
        "nir": 5200,
        "nir08": 5200,
        "nir09": 2200,
        "cirrus": 250,
        "swir16": 3800,
        "swir22": 2800,
    }
    for band, value in cloud.items():
        image[bands.index(band), 100:160, 100:160] = value  # a thick cloud's TOA reflectance x 10,000
    valid = s2cloudless_valid(image, bands)
    assert (~valid[105:155, 105:155]).mean() > 0.9
