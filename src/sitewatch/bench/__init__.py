"""Benchmarks of the detectors on real labelled imagery (OSCD, Landsat pairs)."""

from sitewatch.bench.datasets import Scene, landsat_scenes, oscd_scenes
from sitewatch.bench.metrics import Counts, confusion
from sitewatch.bench.runner import BenchmarkResult, run_benchmark, score_scene

__all__ = [
    "BenchmarkResult",
    "Counts",
    "Scene",
    "confusion",
    "landsat_scenes",
    "oscd_scenes",
    "run_benchmark",
    "score_scene",
]
