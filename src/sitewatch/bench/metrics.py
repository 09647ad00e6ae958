"""Pixel accuracy of a change mask against a reference: counts that pool across scenes.

Pooled figures sum TP/FP/FN/TN over all scenes before computing ratios, so large scenes
weigh more and a city with no change cannot produce an undefined average.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class Counts:
    tp: int = 0
    fp: int = 0
    fn: int = 0
    tn: int = 0

    def __add__(self, other: Counts) -> Counts:
        return Counts(self.tp + other.tp, self.fp + other.fp, self.fn + other.fn, self.tn + other.tn)

    @property
    def total(self) -> int:
        return self.tp + self.fp + self.fn + self.tn

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 0.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 0.0

    @property
    def f1(self) -> float:
        denominator = 2 * self.tp + self.fp + self.fn
        return 2 * self.tp / denominator if denominator else 0.0

    @property
    def iou(self) -> float:
        denominator = self.tp + self.fp + self.fn
        return self.tp / denominator if denominator else 0.0

    @property
    def overall_accuracy(self) -> float:
        return (self.tp + self.tn) / self.total if self.total else 0.0

    @property
    def kappa(self) -> float:
        n = self.total
        if n == 0:
            return 0.0
        observed = (self.tp + self.tn) / n
        expected = ((self.tp + self.fp) * (self.tp + self.fn) + (self.fn + self.tn) * (self.fp + self.tn)) / n**2
        return (observed - expected) / (1 - expected) if expected < 1 else 0.0

    def as_dict(self) -> dict[str, float | int]:
        return {
            "tp": self.tp,
            "fp": self.fp,
            "fn": self.fn,
            "tn": self.tn,
            "precision": round(self.precision, 4),
            "recall": round(self.recall, 4),
            "f1": round(self.f1, 4),
            "iou": round(self.iou, 4),
            "kappa": round(self.kappa, 4),
            "overall_accuracy": round(self.overall_accuracy, 4),
        }


def confusion(predicted: np.ndarray, changed: np.ndarray, scored: np.ndarray | None = None) -> Counts:
    """Counts over `scored` pixels (all when None); `changed` is the reference change mask."""
    predicted = np.asarray(predicted, dtype=bool)
    changed = np.asarray(changed, dtype=bool)
    if predicted.shape != changed.shape:
        raise ValueError(f"prediction {predicted.shape} and reference {changed.shape} differ in shape")
    if scored is None:
        scored = np.ones_like(changed)
    p, c = predicted[scored], changed[scored]
    return Counts(
        tp=int(np.count_nonzero(p & c)),
        fp=int(np.count_nonzero(p & ~c)),
        fn=int(np.count_nonzero(~p & c)),
        tn=int(np.count_nonzero(~p & ~c)),
    )


def counts_above(prob: np.ndarray, changed: np.ndarray, thresholds: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """True and false positives of `prob > t` for every threshold t, from one sort of each class."""
    prob = np.asarray(prob, dtype="float64").ravel()
    changed = np.asarray(changed, dtype=bool).ravel()
    hits, misses = np.sort(prob[changed]), np.sort(prob[~changed])
    thresholds = np.asarray(thresholds, dtype="float64")
    tp = hits.size - np.searchsorted(hits, thresholds, side="right")
    fp = misses.size - np.searchsorted(misses, thresholds, side="right")
    return tp, fp


def best_pooled_thresholds(tp: np.ndarray, fp: np.ndarray, positives: np.ndarray) -> tuple[np.ndarray, float]:
    """One threshold per scene, chosen together so that the pooled F1 is as high as it can be.

    `tp` and `fp` are (scene, threshold) counts, `positives` each scene's changed pixels.
    Choosing each scene's best-F1 threshold is not this optimum: pooled F1 rewards cutting
    false alarms in a scene with little change more than that scene's own F1 does. Pooled
    F1 = 2 TP / (TP + FP + P) is a ratio, so Dinkelbach's method finds the exact optimum
    over the grid: for a trial value λ the best choice is separable (each scene maximises
    2 tp - λ (tp + fp)), and λ rises to the F1 of that choice until it no longer does.
    Returns the chosen threshold index per scene and the pooled F1 they give. A bound for
    diagnosis when the thresholds are chosen on the scored labels, never a setting.
    """
    tp, fp = np.asarray(tp, dtype="float64"), np.asarray(fp, dtype="float64")
    total_positives = float(np.sum(positives))
    if total_positives == 0:
        raise ValueError("no changed pixel in any scene: pooled F1 is undefined")
    rows = np.arange(tp.shape[0])
    ratio = 0.0
    for _ in range(100):  # converges in a handful of steps; the cap only guards against float ties
        # The previous choice scores 0 at this λ, so this one's F1 is never below λ.
        choice = np.argmax(2 * tp - ratio * (tp + fp), axis=1)
        chosen_tp, chosen_fp = tp[rows, choice].sum(), fp[rows, choice].sum()
        f1 = 2 * chosen_tp / (chosen_tp + chosen_fp + total_positives)
        if f1 <= ratio + 1e-12:
            break
        ratio = f1
    return choice, float(f1)
