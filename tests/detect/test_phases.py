"""Every phase of a change: binary segmentation around the main break, on synthetic and real OSCD series."""

from __future__ import annotations

import numpy as np

from sitewatch.bench import oscd_scenes
from sitewatch.bench.series import two_change_counts
from sitewatch.detect.phases import detect_phases
from sitewatch.detect.timeseries import BreakConfig, detect_breaks


def _stairs(seed: int = 0):
    """24 looks: pixels 0-99 step up at looks 8 and 16, pixels 100-199 once at 12, the rest stable."""
    rng = np.random.default_rng(seed)
    series = rng.normal(0, 1, (24, 4, 2000)).astype("float32")
    series[8:, :, :100] += 8
    series[16:, :, :100] += 8
    series[12:, :, 100:200] += 10
    clouded = rng.random((24, 2000)) < 0.15  # whole looks of a pixel
    return np.where(clouded[:, None, :], np.float32(np.nan), series)


def test_main_break_is_the_single_break_detector_exactly():
    series = _stairs()
    phases = detect_phases(series)
    single = detect_breaks(series)
    for name in ("changed", "last_before", "first_after", "n_after", "magnitude", "p_value"):
        np.testing.assert_array_equal(getattr(phases.main, name), getattr(single, name))


def test_two_steps_give_two_dated_breaks_and_one_step_gives_one():
    phases = detect_phases(_stairs())
    two = slice(0, 100)
    extra = phases.earlier.changed[two] | phases.later.changed[two]
    assert phases.main.changed[two].all() and extra.mean() > 0.95
    for layer in (phases.main, phases.earlier, phases.later):  # every break bracketed at a real step
        hit = layer.changed[two]
        steps = np.where(layer.last_before[two][hit] < 8, 8, 16)
        assert (layer.last_before[two][hit] < steps).all() and (layer.first_after[two][hit] >= steps).all()
    assert not (phases.earlier.changed[100:] | phases.later.changed[100:]).any()  # one step, or none: no phase
    assert not phases.main.changed[200:].mean() > 0.02


def test_each_segment_needs_its_own_looks():
    rng = np.random.default_rng(2)
    series = rng.normal(0, 1, (24, 4, 500)).astype("float32")
    series[4:, :, :100] += 8  # a first step after four looks (magnitudes are judged against stable pixels)
    series[12:, :, :100] += 8  # a second one after twelve
    strict, enough = detect_phases(series, BreakConfig(min_obs=5)), detect_phases(series, BreakConfig(min_obs=4))
    for phases in (strict, enough):
        assert phases.main.changed[:100].all() and (phases.main.last_before[:100] == 11).all()
    # the earlier segment is the twelve looks before the main break, and a phase needs its minimum on both sides
    hit = strict.earlier.changed
    assert hit[:100].any() and not hit[100:].any()
    assert (strict.earlier.n_before[hit] >= 5).all() and (strict.earlier.n_after[hit] >= 5).all()
    assert (strict.earlier.n_before[hit] + strict.earlier.n_after[hit] == 12).all()
    assert (strict.earlier.last_before[hit] >= 4).all()  # so not at the real step (look 3): too few looks before it
    assert enough.earlier.changed[:100].all() and (enough.earlier.last_before[:100] == 3).all()


def test_real_series_there_and_back_get_both_changes_dated(oscd_root):
    """Real cupertino pixels changing and changing back (the single-change series are in test_timeseries)."""
    (scene,) = oscd_scenes(oscd_root, ["cupertino"])
    counts = two_change_counts(scene)  # 6 looks of each state: each segment has enough clear ones
    assert counts["found"] > 5000
    assert counts["both"] >= 0.9 * counts["found"]
