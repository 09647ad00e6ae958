"""Pair matching: scene-wide radiometric differences go, local change stays (synthetic mechanics).

Whether matching helps the learned detector is judged on real OSCD cities (the model card
and tests/detect/test_learned.py); these arrays only pin down what the function does.
"""

import numpy as np
import pytest

from sitewatch.base.pair_radiometry import match_pair


def _scene(seed: int = 0, shape=(3, 80, 90)) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.gamma(4.0, 300.0, size=shape).astype("float32") + 100


def test_a_scene_wide_gain_and_offset_is_removed():
    before = _scene()
    gains, offsets = np.array([1.4, 0.8, 1.1]), np.array([300.0, -50.0, 120.0])
    after = before * gains[:, None, None] + offsets[:, None, None]  # haze and sun, nothing built
    b, a = match_pair(before, after)
    assert np.abs(a - b).max() < 1e-2 * np.abs(after - before).max()


def test_local_change_survives_matching():
    before = _scene()
    after = before * 1.2 + 150
    after[:, 20:30, 40:55] += 3000  # a new bright roof
    b, a = match_pair(before, after)
    diff = np.abs(a - b).mean(axis=0)
    roof = np.zeros(diff.shape, bool)
    roof[20:30, 40:55] = True
    assert diff[roof].min() > 10 * np.percentile(diff[~roof], 95)


def test_symmetric_in_time():
    before, after = _scene(0), _scene(1) * 1.3
    b1, a1 = match_pair(before, after)
    a2, b2 = match_pair(after, before)
    np.testing.assert_allclose(b1, b2, rtol=1e-6)
    np.testing.assert_allclose(a1, a2, rtol=1e-6)


def test_no_data_is_left_alone_and_ignored():
    before = _scene()
    after = before * 2.0
    after[:, :10, :] = np.nan  # a strip outside the second scene
    before[:, 70:, :] = 0  # and a strip with no data in the first
    b, a = match_pair(before, after)
    assert np.isnan(a[:, :10]).all() and (b[:, 70:] == 0).all()
    assert np.abs(a[:, 10:70] - b[:, 10:70]).max() < 1.0  # statistics came from valid pixels only


def test_shapes_must_agree():
    with pytest.raises(ValueError, match="differ in shape"):
        match_pair(_scene(shape=(3, 10, 10)), _scene(shape=(3, 10, 11)))
