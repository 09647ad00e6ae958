"""Threshold and minimum region size for a change model, chosen on its training cities only.

Kept free of torch: both training (`fit`) and ensembling exported models (`ensemble`)
choose post-processing the same way, and the latter runs without the [train] extra's
torch. The cleanup is the detector's own (`sitewatch.detect.cleanup`), so the choice
is made on exactly the masks detection will produce.
"""

from __future__ import annotations

import numpy as np

from sitewatch.detect.cleanup import remove_small_regions

#: Candidate probability thresholds and minimum region sizes (pixels) tried on training cities.
THRESHOLDS = tuple(round(t, 2) for t in np.arange(0.2, 0.91, 0.05))
MIN_REGION_PX = (1, 3, 5, 8)


def choose_postprocessing(probs: list[np.ndarray], labels: list[np.ndarray]) -> tuple[float, int, float]:
    """Threshold and minimum region size that maximise pooled F1 over the given (training) cities.

    NaN probabilities (no data) never count as change.
    """
    probs = [np.nan_to_num(p, nan=0.0) for p in probs]
    best = (0.5, 1, -1.0)
    for min_px in MIN_REGION_PX:
        for t in THRESHOLDS:
            tp = fp = fn = 0
            for prob, lab in zip(probs, labels, strict=True):
                mask = remove_small_regions(prob > t, min_px)
                tp += int((mask & lab).sum())
                fp += int((mask & ~lab).sum())
                fn += int((~mask & lab).sum())
            f1 = 2 * tp / max(2 * tp + fp + fn, 1)
            if f1 > best[2]:
                best = (float(t), min_px, f1)
    return best
