import itertools

import numpy as np
import pytest

from sitewatch.base.errors import InputError
from sitewatch.bench import Counts, confusion
from sitewatch.bench.datasets import oscd_change_mask
from sitewatch.bench.metrics import best_pooled_thresholds, counts_above


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


def test_counts_above_match_thresholded_confusion():
    rng = np.random.default_rng(0)
    prob = rng.random(500).round(2)  # ties on the thresholds themselves
    changed = rng.random(500) < 0.2
    thresholds = np.array([0.0, 0.25, 0.5, 0.73, 1.0])
    tp, fp = counts_above(prob, changed, thresholds)
    for t, a, b in zip(thresholds, tp, fp, strict=True):
        counts = confusion(prob > t, changed)
        assert (a, b) == (counts.tp, counts.fp)


def test_best_pooled_thresholds_is_the_exhaustive_optimum():
    """The pooled optimum beats each scene's own best threshold, and no combination beats it."""
    rng = np.random.default_rng(3)
    thresholds = np.linspace(0.05, 0.95, 7)
    curves, positives = [], []
    # The second scene has little change, ranked poorly: silencing it pays in pooled F1.
    for changed_share, separation in ((0.02, 2.0), (0.003, 0.5), (0.05, 1.0)):
        changed = rng.random(4000) < changed_share
        prob = 1 / (1 + np.exp(-(rng.standard_normal(4000) + separation * (2 * changed - 1) - 1.5)))
        curves.append(counts_above(prob, changed, thresholds))
        positives.append(int(changed.sum()))
    tp = np.array([c[0] for c in curves])
    fp = np.array([c[1] for c in curves])

    def pooled(choice):
        chosen_tp = sum(tp[i, j] for i, j in enumerate(choice))
        chosen_fp = sum(fp[i, j] for i, j in enumerate(choice))
        return 2 * chosen_tp / (chosen_tp + chosen_fp + sum(positives))

    exhaustive = max(itertools.product(range(len(thresholds)), repeat=3), key=pooled)
    choice, f1 = best_pooled_thresholds(tp, fp, np.array(positives))
    assert f1 == pytest.approx(pooled(exhaustive)) and f1 == pytest.approx(pooled(choice))
    each_own_best = [int(np.argmax(2 * tp[i] / (tp[i] + fp[i] + positives[i]))) for i in range(3)]
    assert f1 > pooled(each_own_best)
    with pytest.raises(ValueError, match="no changed pixel"):
        best_pooled_thresholds(tp, fp, np.zeros(3))
