"""Running the `sitewatch` command in tests: in-process by default, as a real process where that is the point.

In-process runs go through the same entry (`sitewatch.cli.run`: parsing and the error
policy) with stdout and stderr captured, at a fraction of a process start each; crash,
concurrency and start-up tests use `sitewatch_process`.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass
from pathlib import Path
from unittest import mock

from sitewatch.cli import run


@dataclass
class Result:
    returncode: int
    stdout: str
    stderr: str


def sitewatch(*args: str | Path, env: dict[str, str] | None = None, input: str | None = None) -> Result:
    """`sitewatch ARGS` in this process, as a user would type it (`input`: its standard input)."""
    out, err = io.StringIO(), io.StringIO()
    stdin = io.StringIO(input or "")
    with (
        mock.patch.dict(os.environ, {"COLUMNS": "200", **(env or {})}),
        mock.patch("sys.stdin", stdin),
        redirect_stdout(out),
        redirect_stderr(err),
    ):
        code = run([str(a) for a in args])
    return Result(code, out.getvalue(), err.getvalue())


def sitewatch_process(
    *args: str | Path, env: dict[str, str] | None = None, input: str | None = None
) -> subprocess.CompletedProcess:
    """`sitewatch ARGS` as a separate process (`python -m sitewatch`), with `input` on its stdin."""
    return subprocess.run(
        [sys.executable, "-m", "sitewatch", *map(str, args)],
        input=input,
        capture_output=True,
        text=True,
        env={**os.environ, "COLUMNS": "200", **(env or {})},
        timeout=600,
    )


def assert_one_line_error(result: Result | subprocess.CompletedProcess, needle: str) -> None:
    """Exit code 2, no traceback, one `error:` line that says `needle`, and nothing else but finished stages."""
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("error:")]
    assert len(errors) == 1 and needle in errors[0], result.stderr
    assert all(line.startswith("✓") for line in lines if line not in errors), result.stderr
