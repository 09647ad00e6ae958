"""The default detector: learned where the images have its bands on its scale, else CVA."""

import numpy as np
import pytest

from sitewatch.bench import landsat_scenes
from sitewatch.detect import default_config, detect
from sitewatch.detect.choice import choose_method
from sitewatch.imagery import load_pair
from sitewatch.sites import read_sites


@pytest.fixture(scope="module")
def paris(oscd_city):
    city = oscd_city("paris")
    return load_pair(city / "imgs_1", city / "imgs_2", read_sites(city / "paris.geojson").get(None))


def _arrays(pair, bands):
    return pair.before.sel(band=bands).values, pair.after.sel(band=bands).values


def test_sentinel2_digital_numbers_get_the_learned_model(paris):
    method, reason = choose_method(*_arrays(paris, paris.bands), paris.bands)
    assert method == "learned"
    assert "blue, green, red, nir" in reason


def test_rgb_only_gets_cva(paris):
    bands = ["red", "green", "blue"]
    method, reason = choose_method(*_arrays(paris, bands), bands)
    assert method == "cva" and "no learned model's bands" in reason


def test_reflectance_in_zero_to_one_gets_cva(paris):
    before, after = _arrays(paris, paris.bands)
    method, reason = choose_method(before / 10_000, after / 10_000, paris.bands)
    assert method == "cva" and "median" in reason


def test_eight_bit_landsat_gets_cva(landsat_root):
    scene = next(iter(landsat_scenes(landsat_root, ["Taizhou"])))
    pair = load_pair(scene.before, scene.after, geobox=scene.geobox)
    result = detect(pair.before, pair.after, default_config("auto"), pair.pixel_area_m2)
    assert result.method == "cva"
    assert result.diagnostics["method_choice"].startswith("cva: blue, green, red, nir are 8-bit values")
    assert result.config.threshold_value == 3.0  # cva's own defaults, not learned's


def test_auto_result_is_the_chosen_detector_with_the_given_options(paris):
    result = detect(paris.before, paris.after, default_config("auto", min_area_m2=2000.0), paris.pixel_area_m2)
    same = detect(paris.before, paris.after, default_config("learned", min_area_m2=2000.0), paris.pixel_area_m2)
    assert result.method == "learned" and result.config.min_area_m2 == 2000.0
    np.testing.assert_array_equal(result.mask.values, same.mask.values)
    assert "requested" not in result.config.as_dict()


def test_auto_refuses_a_threshold_it_cannot_interpret():
    with pytest.raises(ValueError, match="name the method"):
        default_config("auto", threshold_value=3.0)
