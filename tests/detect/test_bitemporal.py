"""Mechanics of the scores on small synthetic arrays (detection quality is judged on real data
in tests/bench)."""

import numpy as np
import pytest
from scipy import stats

from sitewatch.base.stats import chi2_sf
from sitewatch.detect.bitemporal import cva_score, irmad


@pytest.mark.parametrize("dof", [1, 2, 3, 6, 10, 13])
def test_chi2_sf_matches_scipy(dof):
    x = np.linspace(0, 300, 3001)
    np.testing.assert_allclose(chi2_sf(x, dof), stats.chi2.sf(x, dof), atol=1e-12)


def _scene(seed: int = 0):
    rng = np.random.default_rng(seed)
    mixing = np.array([[1.0, 0.3, 0.1, 0.0], [0.4, 1.0, 0.2, 0.1], [0.2, 0.5, 1.0, 0.3], [0.1, 0.2, 0.6, 1.0]])
    base = np.einsum("ij,jyx->iyx", mixing, rng.gamma(4.0, 250.0, size=(4, 80, 80)))
    before = (base + rng.normal(0, 150, base.shape)).astype("float32")
    after = (base + rng.normal(0, 150, base.shape)).astype("float32")
    changed = np.zeros((80, 80), bool)
    changed[30:40, 50:65] = True
    after[:, changed] = after[:, changed][::-1] * 1.8  # a spectral change, not just brightness
    return before, after, changed


def test_cva_is_in_noise_units_and_ignores_gain_offset():
    before, after, changed = _scene()
    score = cva_score(before, after)
    assert np.median(score[~changed]) < 1.5
    assert np.median(score[changed]) > 5
    # A different overall offset on the second date shifts every difference equally.
    shifted = cva_score(before, after + np.float32(300))
    np.testing.assert_allclose(shifted, score, rtol=1e-3, atol=1e-3)


def test_irmad_is_invariant_to_linear_radiometric_change():
    before, after, changed = _scene()
    result = irmad(before, after)
    rescaled = irmad(before, after * np.array([0.5, 2.0, 1.1, 0.8], "float32")[:, None, None] + 100)
    assert result.converged and rescaled.converged
    np.testing.assert_allclose(rescaled.chi2, result.chi2, rtol=1e-3, atol=1e-2)
    assert np.median(result.score[changed]) > 3 * np.median(result.score[~changed])
    assert result.mad.shape == before.shape


def test_irmad_reports_iterations_and_handles_nan():
    before, after, _ = _scene()
    before[:, :5, :] = np.nan
    calls = []
    result = irmad(before, after, callback=lambda i, n, d: calls.append(i))
    assert calls == list(range(1, result.iterations + 1))
    assert np.isnan(result.chi2[:5]).all() and np.isfinite(result.chi2[5:]).all()


def test_irmad_sampling_is_repeatable():
    before, after, _ = _scene()
    a = irmad(before, after, max_samples=2000, seed=3)
    b = irmad(before, after, max_samples=2000, seed=3)
    np.testing.assert_array_equal(a.chi2, b.chi2)
    assert a.sampled_pixels == 2000
