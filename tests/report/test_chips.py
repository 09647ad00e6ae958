import base64
import io

import numpy as np
from PIL import Image

from sitewatch.report import chips


def test_stretch_is_robust_to_outliers():
    band = np.linspace(0, 100, 10_000)
    band[:5] = 1e6  # a few saturated pixels
    out = chips.stretch(band)
    assert np.nanmax(out) == 1 and np.nanmin(out) == 0
    assert 0.4 < np.median(out) < 0.6  # the bulk is not squashed by the outliers


def test_rgb_overlay_and_png():
    image = np.random.default_rng(0).uniform(0, 3000, (4, 40, 50)).astype("float32")
    image[:, 0, 0] = np.nan
    rgb = chips.rgb_chip(image, ["blue", "green", "red", "nir"])
    assert rgb.shape == (40, 50, 3) and rgb.dtype == np.uint8 and (rgb[0, 0] == 0).all()
    mask = np.zeros((40, 50), bool)
    mask[10:20, 10:20] = True
    over = chips.overlay(rgb, mask)
    assert (over[10, 10] == [255, 40, 40]).all()  # region outline in red
    uri = chips.png_data_uri(over)
    assert uri.startswith("data:image/png;base64,")
    picture = Image.open(io.BytesIO(base64.b64decode(uri.split(",", 1)[1])))
    assert picture.width >= 50  # small chips are enlarged, never shrunk


def test_large_chips_are_downsampled_and_grey_without_rgb():
    grey = chips.rgb_chip(np.ones((1, 2000, 1000), "float32"), ["b1"])
    assert grey.shape == (2000, 1000, 3)
    picture = chips.label_events(grey, [("E0001", 1000.0, 500.0)])
    assert max(picture.size) == chips.MAX_CHIP_SIDE
