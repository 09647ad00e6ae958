"""Co-registration, radiometric normalisation and composites on the real OSCD Paris pair."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from sitewatch.base.bands import ATMOSPHERIC
from sitewatch.imagery import load_pair
from sitewatch.imagery.composite import composite
from sitewatch.imagery.coregister import BilinearShift, apply_shift, coregister, estimate_shift
from sitewatch.imagery.cube import SceneCube, SceneInfo, cube_array
from sitewatch.imagery.normalize import normalise_scene, orthogonal_fit
from sitewatch.sites import read_sites


@pytest.fixture(scope="module")
def paris(oscd_city):
    city = oscd_city("paris")
    site = read_sites(city / "paris.geojson").get(None)
    return load_pair(city / "imgs_1", city / "imgs_2", site=site)


def _cube(pair, images, days):
    times = [np.datetime64(d) for d in days]
    scenes = [SceneInfo(id=f"s{i}", datetime=f"{d}T00:00:00Z", source="test") for i, d in enumerate(days)]
    return SceneCube(cube_array(np.stack(images), times, pair.bands, pair.geobox), scenes, pair.geobox, pair.site_mask)


def test_known_subpixel_shift_is_recovered(paris):
    nir = paris.before.sel(band="nir").values
    moved = apply_shift(paris.before.values, (0.6, -1.3))[paris.bands.index("nir")]
    result = estimate_shift(nir, moved)
    assert result.ok
    np.testing.assert_allclose(result.shift_px, (-0.6, 1.3), atol=0.15)


def test_another_place_does_not_register(paris, oscd_city):
    rennes = oscd_city("rennes")
    other = load_pair(rennes / "imgs_1", rennes / "imgs_2", site=read_sites(rennes / "rennes.geojson").get(None))
    nir = paris.before.sel(band="nir").values
    elsewhere = other.before.sel(band="nir").values
    h, w = min(nir.shape[0], elsewhere.shape[0]), min(nir.shape[1], elsewhere.shape[1])
    assert not estimate_shift(nir[:h, :w], elsewhere[:h, :w]).ok


def test_the_two_real_dates_are_already_registered(paris):
    result = estimate_shift(paris.before.sel(band="nir").values, paris.after.sel(band="nir").values)
    assert result.ok and np.hypot(*result.shift_px) < 0.5


def test_coregister_corrects_small_shifts_and_drops_misfits(paris):
    before, after = paris.before.values, paris.after.values
    images = [before, apply_shift(after, (0.5, -0.8)), apply_shift(after, (4.0, 3.0))]
    cube = coregister(_cube(paris, images, ["2016-11-30", "2017-11-07", "2017-11-12"]), reference=0)
    assert [s.id for s in cube.scenes] == ["s0", "s1"]
    np.testing.assert_allclose(cube.scenes[1].shift_px, (-0.5, 0.8), atol=0.15)
    assert "exceeds" in cube.dropped[0].notes[-1]


@pytest.mark.parametrize("shift", [(0.37, -1.21), (-1.5, 0.05), (1.0, -1.0), (4.0, 3.0), (-2.6, 0.0)])
def test_shifts_equal_scipy_ndimage(paris, shift):
    """The buffered bilinear shift gives ndimage.shift(order=1)'s values bit for bit, with the
    constant edge co-registration applies to looks and the nearest edge used for matching."""
    image = paris.before.values.copy()
    image[:, 40:60, 100:130] = np.nan  # a cloud
    valid = np.isfinite(image).all(axis=0)
    expected = np.stack(
        [ndimage.shift(np.where(valid, band, 0.0), shift, order=1, mode="constant", cval=0.0) for band in image]
    ).astype("float32")
    expected[:, ndimage.shift(valid.astype("float32"), shift, order=1, mode="constant", cval=0.0) <= 0.999] = np.nan
    np.testing.assert_array_equal(apply_shift(image, shift), expected)
    edges = np.nan_to_num(image[3]).astype("float64")
    moved = BilinearShift(edges.shape)(edges, shift, outside="nearest")
    np.testing.assert_array_equal(moved, ndimage.shift(edges, shift, order=1, mode="nearest"))


def test_orthogonal_fit_is_symmetric():
    rng = np.random.default_rng(0)
    x = rng.normal(1000, 200, 5000)
    y = 1.5 * x + 40 + rng.normal(0, 5, 5000)
    gain, offset = orthogonal_fit(x, y)
    assert gain == pytest.approx(1.5, rel=0.01) and offset == pytest.approx(40, abs=20)
    back, _ = orthogonal_fit(y, x)
    assert back == pytest.approx(1 / gain, rel=1e-6)


def test_normalisation_undoes_a_linear_radiometric_change(paris):
    before, after = paris.before.values, paris.after.values
    plain, fits, count = normalise_scene(before, after)
    assert count > 500
    altered, fits_altered, _ = normalise_scene(before, after * 1.2 - 100)
    both = np.isfinite(plain) & np.isfinite(altered)
    relative = np.abs(altered[both] - plain[both]) / np.maximum(np.abs(plain[both]), 1)
    assert np.median(relative) < 0.01
    ground = [i for i, b in enumerate(paris.bands) if b not in ATMOSPHERIC]  # cirrus & co. carry ~no signal
    ratios = [fits_altered[i][0] * 1.2 / fits[i][0] for i in ground]
    np.testing.assert_allclose(ratios, 1.0, atol=0.03)


def test_monthly_composites(paris):
    base = paris.before.values
    cloudy = base.copy()
    cloudy[:, :50] = np.nan
    images = [base, cloudy, base * 1.1, paris.after.values]
    cube = _cube(paris, images, ["2017-01-03", "2017-01-20", "2017-01-28", "2017-02-10"])
    monthly = composite(cube, "month")
    assert [s.id for s in monthly.scenes] == ["2017-01 median", "2017-02 median"]
    assert "median of 3 scene(s)" in monthly.scenes[0].notes[0]
    np.testing.assert_allclose(monthly.data.values[0][:, 60:], base[:, 60:], rtol=1e-6)  # median of x, x, 1.1x
    np.testing.assert_allclose(monthly.data.values[0][:, :50], (base[:, :50] * 2.1) / 2, rtol=1e-5)
    assert len(composite(cube, "quarter")) == 1


def test_normalising_a_near_copy_of_the_reference_does_not_fail(oscd_city):
    """Two looks of one real date, 1 % gain and 5 DN noise apart: IR-MAD's weights gather on a
    few pixels and the covariance degenerates (it used to end in a LinAlgError traceback)."""
    city = oscd_city("beirut")
    pair = load_pair(city / "imgs_1", city / "imgs_2", site=read_sites(city / "beirut.geojson").get(None))
    real = pair.before.values
    rng = np.random.default_rng(0)
    looks = []
    for _ in range(2):
        look = real * (1 + 0.01 * rng.standard_normal((real.shape[0], 1, 1))) + rng.normal(0, 5, real.shape)
        looks.append(np.clip(np.nan_to_num(look, nan=0), 1, 65535).astype("uint16").astype("float32"))
    _, fits, count = normalise_scene(looks[0], looks[1])
    assert count > 500
    ground = [i for i, b in enumerate(pair.bands) if b not in ATMOSPHERIC]
    np.testing.assert_allclose([fits[i][0] for i in ground], 1.0, atol=0.05)  # the 1 % gains, nearly undone
