import numpy as np

from sitewatch.train.postprocess import choose_postprocessing


def test_choose_postprocessing_finds_the_separating_threshold():
    lab = np.zeros((20, 20), bool)
    lab[5:10, 5:10] = True
    prob = np.where(lab, 0.8, 0.3)
    threshold, _, f1 = choose_postprocessing([prob], [lab])
    assert 0.3 <= threshold < 0.8 and f1 == 1.0


def test_choose_postprocessing_drops_specks_when_they_are_false_alarms():
    lab = np.zeros((30, 30), bool)
    lab[5:12, 5:12] = True
    prob = np.where(lab, 0.9, 0.1)
    prob[20, 20] = prob[25, 3] = 0.9  # isolated one-pixel false alarms
    _, min_px, f1 = choose_postprocessing([prob], [lab])
    assert min_px > 1 and f1 == 1.0


def test_no_data_never_counts_as_change():
    lab = np.zeros((10, 10), bool)
    lab[2:5, 2:5] = True
    prob = np.where(lab, 0.9, 0.1)
    prob[8:, 8:] = np.nan
    assert choose_postprocessing([prob], [lab])[2] == 1.0
