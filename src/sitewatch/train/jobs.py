"""Training several models at once in worker processes (functions importable by spawn).

When the parent is stopped (Ctrl-C, or SIGTERM from a scheduler or `kill`), its workers
are terminated with it instead of training on unseen for an hour. A `ProcessPoolExecutor`
rather than `multiprocessing.Pool`: when a worker dies (the kernel's out-of-memory killer)
the executor raises BrokenProcessPool (which `plan` reports in one line), where a pool
would wait forever.
"""

from __future__ import annotations

import json
import os
import signal
import sys
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import active_children, get_context
from pathlib import Path
from typing import Any

from sitewatch.train.config import TrainConfig, as_recorded, recorded_settings
from sitewatch.train.data import TrainingData

_DATA: TrainingData | None = None

#: name, training cities, config, output path, device, and the command recorded in the model file
Task = tuple[str, list[str], TrainConfig, str, str, str]


def run_task(task: Task) -> str:
    from sitewatch.train.fit import export_onnx, train  # torch: only where training happens

    name, cities, config, out, device, command = task
    assert _DATA is not None
    model = train(_DATA, cities, config, device=device, log=lambda m: print(f"[{name}] {m}", flush=True))
    export_onnx(model, out, command=command)
    return f"{name}: threshold {model.threshold}, min region {model.min_region_px} px, {model.seconds:.0f} s"


def trained_with(path: Path, config: TrainConfig, cities: list[str]) -> bool:
    """True when `path` exists and was trained with exactly these settings and cities.

    Settings a model's metadata lacks (it predates them) count as the first recipe's
    (`FIRST_RECIPE`: what training did before the option existed), so adding an option or
    changing a default does not make every model already trained look out of date or,
    worse, up to date.
    """
    if not path.is_file():
        return False
    import onnx  # lazy: only `plan` reads model files, and onnx comes with the [train] extra

    meta = {p.key: p.value for p in onnx.load(str(path), load_external_data=False).metadata_props}
    stored = recorded_settings(meta.get("train_config", "{}"))
    return stored == as_recorded(config) and meta.get("train_cities") == json.dumps(cities)


def _init_worker(path: str, threads: int | None) -> None:
    """Load the training data once per process; `threads` None keeps torch's own choice."""
    global _DATA
    import torch

    if threads is not None:
        torch.set_num_threads(threads)
    _DATA = TrainingData.load(path)


def _stop_on_sigterm(signum: int, frame: object) -> None:
    print("stopped (SIGTERM): finished models are kept; the same command resumes", file=sys.stderr, flush=True)
    raise SystemExit(128 + signum)


def pool_map(
    func: Callable[[Any], Any],
    items: Iterable[Any],
    jobs: int,
    initializer: Callable[..., None] | None = None,
    initargs: tuple = (),
) -> Iterator[Any]:
    """Yield `func(item)` in order, computed by `jobs` spawned processes.

    SIGTERM to this process raises SystemExit here; on that, Ctrl-C or any other error
    the workers (this process's multiprocessing children) are terminated before it
    propagates, so stopping the parent stops everything it started.
    """
    previous = signal.signal(signal.SIGTERM, _stop_on_sigterm)
    try:
        with ProcessPoolExecutor(
            jobs, mp_context=get_context("spawn"), initializer=initializer, initargs=initargs
        ) as pool:
            try:
                yield from pool.map(func, items)
            except BaseException:
                pool.shutdown(wait=False, cancel_futures=True)
                for worker in active_children():
                    worker.terminate()
                raise
    finally:
        signal.signal(signal.SIGTERM, previous)


def run_tasks(data_path: str, tasks: list[Task], jobs: int) -> None:
    # torch threads per process: the cores shared among the jobs, unless OMP_NUM_THREADS
    # says otherwise (e.g. two `fit` runs side by side on two cores)
    threads = None if "OMP_NUM_THREADS" in os.environ else max(1, (os.cpu_count() or 1) // max(jobs, 1))
    if jobs <= 1:
        _init_worker(data_path, threads)
        for task in tasks:
            print(run_task(task), flush=True)
        return
    for line in pool_map(run_task, tasks, jobs, initializer=_init_worker, initargs=(data_path, threads)):
        print(line, flush=True)
