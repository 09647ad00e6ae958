import numpy as np
import pytest

from sitewatch.bench import Counts, confusion
from sitewatch.bench.datasets import oscd_change_mask
from sitewatch.errors import InputError


def test_confusion_counts_only_scored_pixels():
    predicted = np.array([1, 1, 0, 0, 1], bool)
    changed = np.array([1, 0, 1, 0, 1], bool)
    assert confusion(predicted, changed) == Counts(tp=2, fp=1, fn=1, tn=1)
    scored = np.array([1, 1, 1, 1, 0], bool)
    assert confusion(predicted, changed, scored) == Counts(tp=1, fp=1, fn=1, tn=1)


def test_ratios_and_pooling():
    a, b = Counts(tp=8, fp=2, fn=2, tn=88), Counts(tp=0, fp=0, fn=10, tn=90)
    assert a.precision == 0.8 and a.recall == 0.8 and a.f1 == pytest.approx(0.8)
    assert a.iou == pytest.approx(8 / 12)
    # kappa: observed 0.96, expected (10*10 + 90*90)/100^2 = 0.82
    assert a.kappa == pytest.approx((0.96 - 0.82) / 0.18)
    pooled = a + b
    assert pooled == Counts(tp=8, fp=2, fn=12, tn=178)
    assert pooled.f1 == pytest.approx(16 / 30)
    assert Counts().f1 == 0.0 and Counts().kappa == 0.0


def test_oscd_labels_are_one_two():
    assert oscd_change_mask(np.array([1, 2, 2, 1])).tolist() == [False, True, True, False]
    assert oscd_change_mask(np.array([0, 255])).tolist() == [False, True]
    with pytest.raises(InputError, match="unexpected values"):
        oscd_change_mask(np.array([0, 1, 2]))
