import numpy as np
import pytest

from sitewatch.detect.threshold import choose_threshold, kittler_illingworth, otsu


def _mixture() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(1)
    # 95% narrow "unchanged" scores around 1, 5% wide "changed" scores around 8.
    scores = np.concatenate([rng.normal(1, 0.3, 95_000), rng.normal(8, 2.0, 5_000)])
    return scores, np.arange(scores.size) >= 95_000


@pytest.fixture
def bimodal() -> np.ndarray:
    return _mixture()[0]


def test_otsu_and_ki_separate_the_modes(bimodal):
    for threshold in (otsu(bimodal), kittler_illingworth(bimodal)):
        assert 1.9 < threshold < 6


def test_ki_suits_unequal_class_variances():
    scores, changed = _mixture()

    def errors(t: float) -> int:
        return int(((scores > t) != changed).sum())

    assert errors(kittler_illingworth(scores)) < errors(otsu(scores))


def test_nan_is_ignored_and_fixed_is_taken_as_is(bimodal):
    with_nan = np.concatenate([bimodal, np.full(1000, np.nan)])
    assert otsu(with_nan) == pytest.approx(otsu(bimodal))
    assert choose_threshold(with_nan, "fixed", 3.0) == 3.0
    with pytest.raises(ValueError, match="needs a value"):
        choose_threshold(with_nan, "fixed")
    with pytest.raises(ValueError, match="unknown threshold"):
        choose_threshold(with_nan, "median")
    with pytest.raises(ValueError, match="no valid pixel"):
        otsu(np.full(10, np.nan))


def test_knee_is_the_triangle_cut_never_above_its_ceiling():
    from skimage.filters import threshold_triangle

    from sitewatch.detect.threshold import knee

    rng = np.random.default_rng(3)
    # narrow noise and a broad tail of change: the knee lies where the tail leaves the peak
    tailed = np.concatenate([np.abs(rng.normal(0, 0.5, 190_000)), rng.uniform(2, 40, 10_000)])
    assert knee(tailed) == pytest.approx(threshold_triangle(tailed)) and knee(tailed) < 2.0
    assert knee(tailed, ceiling=0.5) == 0.5
    heavy = np.abs(rng.standard_t(3, 200_000))  # heavy-tailed noise alone: the triangle cut lies high...
    assert threshold_triangle(heavy) > 3.0 and knee(heavy) == 3.0  # ...and the ceiling holds
    assert choose_threshold(np.append(tailed, np.nan), "knee") == pytest.approx(knee(tailed))
    assert choose_threshold(tailed, "knee", 1.0) == 1.0
