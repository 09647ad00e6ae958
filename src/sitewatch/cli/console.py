"""Terminal output: one Rich console on stderr, stage progress, and the error line.

Progress and messages go to stderr so `--json` output on stdout stays machine-readable.
"""

from __future__ import annotations

import time

from rich.console import Console
from rich.markup import escape
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

console = Console(stderr=True, highlight=False)
stdout = Console(highlight=False)
if not stdout.is_terminal:  # piped or captured: do not squeeze tables into 80 columns
    stdout.width = 160


def error_line(message: str) -> None:
    """The one line a user mistake gets."""
    console.print(f"[bold red]error:[/] {escape(message)}", soft_wrap=True)


class StageProgress:
    """A spinner per stage while it runs, a tick with its duration once done."""

    def __init__(self) -> None:
        self._progress = Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            TimeElapsedColumn(),
            console=console,
            transient=True,
        )
        self._task: int | None = None
        self._name = ""
        self._start = 0.0

    def __enter__(self) -> StageProgress:
        self._progress.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self._progress.__exit__(*exc)

    def __call__(self, name: str | None) -> None:
        if name is not None:
            self._name, self._start = name, time.perf_counter()
            self._task = self._progress.add_task(escape(name), total=None)
            return
        if self._task is not None:
            self._progress.remove_task(self._task)
            self._task = None
            elapsed = time.perf_counter() - self._start
            self._progress.console.print(f"[green]✓[/] {escape(self._name)} [dim]{elapsed:.1f}s[/]")

    def detail(self, text: str) -> None:
        """Extra detail on the running stage (e.g. an iteration count)."""
        if self._task is not None:
            self._progress.update(self._task, description=escape(f"{self._name} - {text}"))


class SitesProgress:
    """A watchlist's progress on the terminal: sites done of all, failures, rate and time left."""

    def __init__(self, total: int) -> None:
        from rich.progress import BarColumn, MofNCompleteColumn, TimeRemainingColumn

        self._progress = Progress(
            TextColumn("sites"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[failed]} failed · {task.fields[rate]}"),
            TimeRemainingColumn(),
            console=console,
            transient=True,
        )
        self._task = self._progress.add_task("sites", total=total, failed=0, rate="")
        self._start = time.perf_counter()
        self.failed = 0
        self.done = 0

    def __enter__(self) -> SitesProgress:
        self._progress.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self._progress.__exit__(*exc)

    def site_done(self, failed: bool) -> None:
        self.done += 1
        self.failed += failed
        per_minute = self.done / max(time.perf_counter() - self._start, 1e-9) * 60
        self._progress.update(self._task, advance=1, failed=self.failed, rate=f"{per_minute:,.1f} sites/min")

    @property
    def elapsed(self) -> float:
        return time.perf_counter() - self._start
