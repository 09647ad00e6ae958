"""Training several models at once in worker processes (functions importable by spawn)."""

from __future__ import annotations

import os
import shlex
import sys
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context

from sitewatch.train.data import TrainingData
from sitewatch.train.fit import TrainConfig, export_onnx, train

_DATA: TrainingData | None = None

Task = tuple[str, list[str], TrainConfig, str, str]  # name, training cities, config, output path, device


def run_task(task: tuple[str, list[str], TrainConfig, str, str]) -> str:
    name, cities, config, out, device = task
    assert _DATA is not None
    model = train(_DATA, cities, config, device=device, log=lambda m: print(f"[{name}] {m}", flush=True))
    export_onnx(model, out, command=" ".join(["python -m sitewatch.train", *map(shlex.quote, sys.argv[1:])]))
    return f"{name}: threshold {model.threshold}, min region {model.min_region_px} px, {model.seconds:.0f} s"


def _init_worker(path: str, threads: int) -> None:
    global _DATA
    import torch

    torch.set_num_threads(threads)
    _DATA = TrainingData.load(path)


def run_tasks(data_path: str, tasks: list[tuple[str, list[str], TrainConfig, str, str]], jobs: int) -> None:
    threads = max(1, (os.cpu_count() or 1) // jobs)
    if jobs <= 1:
        _init_worker(data_path, threads)
        for task in tasks:
            print(run_task(task), flush=True)
        return
    with ProcessPoolExecutor(
        jobs, mp_context=get_context("spawn"), initializer=_init_worker, initargs=(data_path, threads)
    ) as pool:
        for line in pool.map(run_task, tasks):
            print(line, flush=True)
