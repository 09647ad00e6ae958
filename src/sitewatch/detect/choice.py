"""Which two-date detector runs when none is named: the learned model where it can, else CVA.

The learned detector finds unseen cities' construction far better than CVA (README,
accuracy), but only on what it was trained on: blue, green, red and NIR as reflectance
times 10,000 (Sentinel-2 L1C/L2A digital numbers). Fed 8-bit display imagery or
reflectance in 0-1 it is blind (the 8-bit Landsat pairs score 0.000), so the choice reads
the values too, not only the band names. Everything else (RGB-only aerial imagery, other
band sets, other scales) gets CVA, which judges any bands in its own noise units. The
reason for the choice goes into every output so a reader knows which detector spoke.
"""

from __future__ import annotations

import numpy as np

from sitewatch.base.errors import InputError
from sitewatch.detect.learned import choose_model

#: Median of the model's bands, inside which the values are taken as reflectance x 10,000:
#: below, 0-1 reflectance or dark 8-bit imagery; 8-bit imagery is caught by its ceiling.
REFLECTANCE_DN_MEDIAN = (50.0, 20_000.0)
#: Imagery whose 99.9th percentile stays at or below this is 8-bit (display) imagery.
EIGHT_BIT_CEILING = 255.0


def choose_method(before: np.ndarray, after: np.ndarray, keys: list[str], model: str | None = None) -> tuple[str, str]:
    """('learned' or 'cva', the reason in one sentence) for two (band, y, x) images with bands `keys`.

    With `model` (the analyst's own file) it must fit the bands; the values are still checked.
    """
    if model is not None:  # the analyst's own model: a missing file or band is an error, not a fallback
        chosen = choose_model(keys, model)
    else:
        try:
            chosen = choose_model(keys)
        except InputError:
            return "cva", f"cva: the images have no learned model's bands ({', '.join(keys)})"
    used = [keys.index(b) for b in chosen.bands]
    values = np.concatenate([before[used].ravel(), after[used].ravel()])
    values = values[np.isfinite(values)][:: max(1, values.size // 1_000_000)]
    if values.size == 0:
        return "cva", "cva: no valid pixel in the learned model's bands"
    median, top = np.percentile(values, [50, 99.9])
    bands = ", ".join(chosen.bands)
    low, high = REFLECTANCE_DN_MEDIAN
    if not low <= median <= high:
        return "cva", f"cva: {bands} have a median of {median:.3g}, not reflectance x 10,000 as {chosen.name} learned"
    if top <= EIGHT_BIT_CEILING:
        return "cva", f"cva: {bands} are 8-bit values (up to {top:.0f}), not the scale {chosen.name} learned"
    return "learned", f"learned ({chosen.name}): the images have {bands} as reflectance x 10,000"
