"""The training file: compact encoding, round trip, 20 m bands kept at 20 m."""

import numpy as np

from sitewatch.train.data import S2_BANDS, City, TrainingData, decode_dn, encode_dn


def test_encoding_keeps_reflectance_within_one_percent():
    dn = np.array([100.0, 500.0, 1234.0, 3000.0, 9000.0], dtype="float32")
    back = decode_dn(encode_dn(dn))
    np.testing.assert_allclose(back, dn, rtol=0.011)


def test_round_trip(tmp_path):
    rng = np.random.default_rng(0)
    shape = (21, 30)
    smooth = np.kron(rng.uniform(300, 3000, (len(S2_BANDS), 11, 15)), np.ones((2, 2)))[:, :21, :30]
    changed = rng.random(shape) < 0.1
    data = TrainingData(S2_BANDS, {"x": City("x", smooth.astype("float32"), smooth[::-1].astype("float32"), changed)})
    data.save(tmp_path / "t.npz")
    back = TrainingData.load(tmp_path / "t.npz")
    city = back.cities["x"]
    assert back.bands == S2_BANDS
    np.testing.assert_array_equal(city.changed, changed)
    assert city.before.shape == (len(S2_BANDS), *shape)
    fine = S2_BANDS.index("red")
    np.testing.assert_allclose(city.before[fine], smooth[fine], rtol=0.011)
    coarse = S2_BANDS.index("swir16")  # stored at 20 m: only the block means survive
    ratio = city.before[coarse, 2:-2, 2:-2] / smooth[coarse, 2:-2, 2:-2]
    assert np.median(np.abs(np.log(ratio))) < 0.3
    assert not list(tmp_path.glob("*.part*"))
