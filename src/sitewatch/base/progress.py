"""Stage progress: how a long job tells whoever runs it what it is doing.

Jobs take an optional `StageReporter` and wrap each stage in `timed_stage`; the CLI passes
a Rich spinner, a notebook passes nothing. The timings land in every job's summary.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

#: Reports a stage: called with a description when it starts and `None` once it succeeded.
StageReporter = Callable[[str | None], None]


@contextmanager
def timed_stage(name: str, reporter: StageReporter | None, timings: dict[str, float]) -> Iterator[None]:
    """Report `name`, run the block, record its duration (not reported as done on an exception)."""
    if reporter is not None:
        reporter(name)
    start = time.perf_counter()
    yield
    timings[name] = time.perf_counter() - start
    if reporter is not None:
        reporter(None)


def stage_detail(reporter: StageReporter | None, text: str) -> None:
    """Extra detail on the running stage, where the reporter can show it."""
    detail = getattr(reporter, "detail", None)
    if detail is not None:
        detail(text)
