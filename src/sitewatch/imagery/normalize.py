"""Relative radiometric normalisation of each scene to a reference, on no-change pixels.

Sun angle, atmosphere and processing baseline change a whole scene's brightness; a
change detector should not see that. Pixels that IR-MAD finds unchanged between a scene
and the reference (chi-square no-change probability above `min_probability`) are taken
as pseudo-invariant features, and each band is mapped onto the reference by orthogonal
(total least squares) regression, which, unlike ordinary least squares, treats both
images as noisy and so does not shrink the gain (Canty and Nielsen 2008).
"""

from __future__ import annotations

import numpy as np

from sitewatch.base.mad import irmad
from sitewatch.base.stats import chi2_sf
from sitewatch.imagery.cube import SceneCube

DEFAULT_MIN_PROBABILITY = 0.9
MIN_INVARIANT_PIXELS = 100


def orthogonal_fit(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """(gain, offset) of the total-least-squares line y = gain·x + offset."""
    mx, my = float(x.mean()), float(y.mean())
    sxx, syy, sxy = float(((x - mx) ** 2).mean()), float(((y - my) ** 2).mean()), float(((x - mx) * (y - my)).mean())
    if abs(sxy) < 1e-12:
        return 1.0, my - mx
    gain = (syy - sxx + np.sqrt((syy - sxx) ** 2 + 4 * sxy**2)) / (2 * sxy)
    return float(gain), float(my - gain * mx)


def invariant_pixels(reference: np.ndarray, scene: np.ndarray, min_probability: float) -> np.ndarray:
    """(y, x) True where IR-MAD finds no change between the two (band, y, x) images."""
    result = irmad(reference, scene)
    probability = chi2_sf(np.nan_to_num(result.chi2, nan=1e6), reference.shape[0])
    return probability > min_probability


def normalise_scene(
    reference: np.ndarray, scene: np.ndarray, min_probability: float = DEFAULT_MIN_PROBABILITY
) -> tuple[np.ndarray, list[tuple[float, float]], int]:
    """`scene` mapped onto `reference` band by band; the (gain, offset) per band and invariant pixel count."""
    try:
        invariant = invariant_pixels(reference, scene, min_probability)
    except ValueError:  # IR-MAD cannot fit these two (too little data, degenerate bands): leave the scene as it is
        return scene, [(1.0, 0.0)] * scene.shape[0], 0
    invariant &= np.isfinite(reference).all(axis=0) & np.isfinite(scene).all(axis=0)
    count = int(invariant.sum())
    if count < MIN_INVARIANT_PIXELS:
        return scene, [(1.0, 0.0)] * scene.shape[0], count
    out = np.empty_like(scene)
    fits = []
    for band in range(scene.shape[0]):
        gain, offset = orthogonal_fit(scene[band][invariant], reference[band][invariant])
        out[band] = gain * scene[band] + offset
        fits.append((gain, offset))
    return out, fits, count


def normalise(cube: SceneCube, reference: int | None = None) -> SceneCube:
    """Every scene normalised to the reference scene (the clearest by default), in place.

    Each look is read before it is overwritten and the reference never changes, so no
    second cube-sized array is needed.
    """
    values = cube.data.values
    ref_index = int(np.argmax(cube.valid_fractions())) if reference is None else reference
    for index, scene in enumerate(cube.scenes):
        if index == ref_index:
            continue
        values[index], fits, count = normalise_scene(values[ref_index], values[index])
        scene.normalisation = {b: [round(g, 5), round(o, 3)] for b, (g, o) in zip(cube.bands, fits, strict=True)}
        if count < MIN_INVARIANT_PIXELS:
            scene.notes.append(f"not normalised: only {count} invariant pixels")
        else:
            scene.notes.append(f"normalised on {count:,} invariant pixels")
    return cube
