"""Fault injection from the test side: hold a run at a known point so a test can kill it there.

`SITEWATCH_TEST_PAUSE=<stage>:<seconds> python -m tests.crashpoints ARGS...` runs
`sitewatch ARGS` with a pause wrapped around one of its functions; when the run gets there
it prints "test pause at stage N" on stderr and sleeps, so a test that waits for the line
kills the run at that point on a fast machine as on a slow one. Production code knows
nothing of it: the pause is installed here by replacing module attributes.

Stages: 0 two scenes read (nothing cached or stored), 1 one event added to the store's
open transaction, 2 everything added (alerts queued) and not yet committed.
"""

from __future__ import annotations

import functools
import os
import sys
import time
from collections.abc import Callable
from typing import Any


def _pause(stage: int, seconds: float) -> None:
    print(f"test pause at stage {stage}", file=sys.stderr, flush=True)
    time.sleep(seconds)


def _after_call(module: Any, name: str, call_number: int, stage: int, seconds: float) -> None:
    """Replace `module.name` by a wrapper that pauses after its `call_number`-th call returns."""
    original: Callable = getattr(module, name)
    calls = 0

    @functools.wraps(original)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        nonlocal calls
        result = original(*args, **kwargs)
        calls += 1
        if calls == call_number:
            _pause(stage, seconds)
        return result

    setattr(module, name, wrapper)


def install(stage: int, seconds: float) -> None:
    """Install the pause of `stage` in this process."""
    if stage == 0:
        import sitewatch.imagery.local_series as local_series

        _after_call(local_series, "load_image", 2, stage, seconds)
    elif stage == 1:
        import sitewatch.store.repo as repo

        _after_call(repo, "store_sighting", 1, stage, seconds)
    elif stage == 2:
        import sitewatch.store.repo as repo

        _after_call(repo, "queue_alerts", 1, stage, seconds)
    else:
        raise ValueError(f"no crash point {stage}")


def install_from_env() -> None:
    """Install the pause SITEWATCH_TEST_PAUSE names, if any."""
    spec = os.environ.get("SITEWATCH_TEST_PAUSE")
    if spec:
        stage, seconds = spec.split(":")
        install(int(stage), float(seconds))


if __name__ == "__main__":
    install_from_env()
    from sitewatch.cli import run

    sys.exit(run(sys.argv[1:]))
