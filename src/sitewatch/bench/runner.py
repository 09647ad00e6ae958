"""Run a detector over a labelled data set and pool the accuracy."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from sitewatch import __version__
from sitewatch.bench.datasets import Scene
from sitewatch.bench.metrics import Counts, confusion
from sitewatch.detect import DetectorConfig, detect
from sitewatch.imagery import load_pair


@dataclass
class BenchmarkResult:
    dataset: str
    data_dir: str
    config: DetectorConfig
    scenes: dict[str, Counts] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)

    @property
    def pooled(self) -> Counts:
        return sum(self.scenes.values(), Counts())

    def as_dict(self) -> dict[str, Any]:
        return {
            "dataset": self.dataset,
            "data_dir": self.data_dir,
            "sitewatch_version": __version__,
            "parameters": self.config.as_dict(),
            "scenes": {
                name: {**c.as_dict(), "seconds": round(self.seconds[name], 2)} for name, c in self.scenes.items()
            },
            "pooled": self.pooled.as_dict(),
        }


def score_scene(scene: Scene, config: DetectorConfig) -> Counts:
    """Detect on one scene's grid and count against its reference."""
    pair = load_pair(scene.before, scene.after, geobox=scene.geobox)
    result = detect(pair.before, pair.after, config, pair.pixel_area_m2)
    return confusion(np.asarray(result.mask.values), scene.changed, scene.scored)


def run_benchmark(
    dataset: str,
    data_dir: str,
    scenes: Iterable[Scene],
    config: DetectorConfig,
    on_scene: Callable[[str, Counts], None] | None = None,
    config_for: Callable[[str], DetectorConfig] | None = None,
) -> BenchmarkResult:
    """Score every scene; `config_for` gives a scene its own model (cross-validation folds)."""
    result = BenchmarkResult(dataset, data_dir, config)
    for scene in scenes:
        start = time.perf_counter()
        counts = score_scene(scene, config_for(scene.name) if config_for else config)
        result.scenes[scene.name] = counts
        result.seconds[scene.name] = time.perf_counter() - start
        if on_scene is not None:
            on_scene(scene.name, counts)
    return result
