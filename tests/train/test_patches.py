"""Training patches: the optional scale and misregistration augmentations keep labels aligned."""

import numpy as np

from sitewatch.train.data import City
from sitewatch.train.patches import PatchSampler


def _city(seed: int = 0) -> City:
    """A textured 4-band scene with a 20 x 20 changed square painted bright into both dates."""
    rng = np.random.default_rng(seed)
    texture = rng.uniform(300, 3000, (4, 160, 160)).astype("float32")
    changed = np.zeros((160, 160), dtype=bool)
    changed[70:90, 70:90] = True
    texture[:, changed] = 8000.0
    return City("square", texture, texture.copy(), changed)


def test_scaled_windows_keep_the_label_on_the_object_and_vary_its_size():
    sampler = PatchSampler([_city()], size=32, change_share=1.0, gain_jitter=0.0, scale_jitter=0.3, seed=1)
    before, after, label = sampler.batch(64)
    assert before.shape == after.shape == (64, 4, 32, 32) and label.shape == (64, 32, 32)
    bright = before.mean(axis=1) > 5500
    assert (bright == (label > 0.5)).mean() > 0.97
    on_edge = [lab[0].any() or lab[-1].any() or lab[:, 0].any() or lab[:, -1].any() for lab in label > 0.5]
    inside = [lab.sum() for lab, edge in zip(label > 0.5, on_edge, strict=True) if not edge]
    assert len(inside) > 5  # patches that hold the whole square
    assert min(inside) < 400 * 0.9 and max(inside) > 400 * 1.1  # its 20 x 20 px seen smaller and larger


def test_shift_jitter_moves_one_date_by_at_most_the_asked_pixels():
    sampler = PatchSampler([_city()], size=32, gain_jitter=0.0, shift_jitter=1, seed=2)
    before, after, _ = sampler.batch(48)
    shifts = []
    for b, a in zip(before, after, strict=True):
        errors = {
            (dy, dx): np.abs(np.roll(b, (dy, dx), axis=(-2, -1))[:, 1:-1, 1:-1] - a[:, 1:-1, 1:-1]).max()
            for dy in (-1, 0, 1)
            for dx in (-1, 0, 1)
        }
        best = min(errors, key=errors.get)
        assert errors[best] == 0.0  # the other date is the same scene, moved by at most 1 px
        shifts.append(best)
    assert len(set(shifts)) > 4  # and it really is moved, in several directions


def test_without_the_options_both_dates_share_one_window():
    sampler = PatchSampler([_city()], size=32, gain_jitter=0.0, seed=3)
    before, after, _ = sampler.batch(16)
    np.testing.assert_array_equal(before, after)
