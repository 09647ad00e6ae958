import numpy as np
import pytest
import xarray as xr

from sitewatch.detect import default_config, detect
from sitewatch.detect.core import detection_bands


def _pair():
    rng = np.random.default_rng(0)
    bands = ["coastal", "blue", "green", "red", "nir", "swir16"]
    base = rng.gamma(4.0, 250.0, size=(len(bands), 60, 60)).astype("float32")
    before = base + rng.normal(0, 10, base.shape).astype("float32")
    after = base + rng.normal(0, 10, base.shape).astype("float32")
    after[:, 20:30, 20:30] = after[::-1, 20:30, 20:30] * 1.5  # a change of colour and brightness
    coords = {"band": bands, "y": np.arange(60) * -10.0, "x": np.arange(60) * 10.0}
    return (
        xr.DataArray(before, dims=("band", "y", "x"), coords=coords),
        xr.DataArray(after, dims=("band", "y", "x"), coords=coords),
    )


def test_defaults_per_method():
    assert (default_config("cva").threshold, default_config("cva").threshold_value) == ("knee", 3.0)
    assert default_config("cva", threshold="fixed").threshold_value == 3.0
    assert default_config("cva", threshold="otsu").threshold_value is None
    assert default_config("irmad").threshold == "ki"
    assert default_config("cva", threshold="otsu", min_area_m2=None).threshold == "otsu"
    with pytest.raises(ValueError, match="unknown method"):
        default_config("magic")


def test_atmospheric_bands_are_left_out():
    assert detection_bands(["coastal", "blue", "cirrus", "red"], True) == ["blue", "red"]
    assert detection_bands(["coastal", "cirrus"], True) == ["coastal", "cirrus"]
    assert detection_bands(["coastal", "blue"], False) == ["coastal", "blue"]


@pytest.mark.parametrize("method", ["cva", "irmad", "index"])
def test_detect_finds_the_block_and_records_parameters(method):
    before, after = _pair()
    result = detect(before, after, default_config(method), pixel_area_m2=100.0)
    mask = result.mask.values
    assert mask[22:28, 22:28].all()
    assert mask.sum() < 2 * 100  # no more than twice the true change
    assert "coastal" not in result.bands
    assert result.score.dims == ("y", "x") and result.config.method == method
    assert result.config.as_dict()["method"] == method


def test_a_detector_flagging_most_of_the_image_warns():
    """Change over more than half the image is likelier a radiometric mismatch than change: say so."""
    rng = np.random.default_rng(0)
    before = rng.normal(1000, 30, (4, 60, 60)).astype("float32")
    after = before + rng.normal(0, 30, before.shape).astype("float32")
    coords = {"band": ["blue", "green", "red", "nir"]}
    b = xr.DataArray(before, dims=("band", "y", "x"), coords=coords)
    a = xr.DataArray(after, dims=("band", "y", "x"), coords=coords)
    # a threshold far too low for this noise flags most of the image
    flagged = detect(b, a, default_config("cva", threshold_value=0.2, min_area_m2=0), 100.0)
    assert flagged.diagnostics["flagged_share"] > 0.5 and "flagged" in flagged.diagnostics["warnings"][0]
    quiet = detect(b, a, default_config("cva"), 100.0)
    assert "warnings" not in quiet.diagnostics
