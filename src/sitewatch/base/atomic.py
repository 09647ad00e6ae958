"""Outputs that appear whole or not at all.

A job killed half-way must not leave a report that looks finished beside a summary from
an earlier run. Every output is written into a staging folder (or a `.part` file) next to
its target and moved into place only once all of it is complete; on any error the staging
area is removed and the target folder keeps what it had.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sitewatch.base.errors import InputError


@contextmanager
def staged_folder(out_dir: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a staging folder inside `out_dir`; when the block ends normally, each file
    written there replaces the file of the same name in `out_dir`."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=out))
    try:
        yield staging
        for path in sorted(staging.iterdir()):
            os.replace(path, out / path.name)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def write_text_atomic(path: str | os.PathLike[str], text: str) -> Path:
    """Write `text` to `path` through a `.part` file renamed into place."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    part = target.with_name(target.name + ".part")
    try:
        part.write_text(text, encoding="utf-8")
        os.replace(part, target)
    finally:
        part.unlink(missing_ok=True)
    return target


def prepare_output_folder(out_dir: str | os.PathLike[str], names: list[str], *, overwrite: bool = False) -> Path:
    """Check, before any work, that `out_dir` can take these outputs.

    It must be a folder (made if missing) this process can write, and hold none of the
    files the job writes unless `overwrite` says they may be replaced: an analyst's earlier
    report is never silently lost.
    """
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise InputError(f"{out}: exists and is not a folder; give --out a folder")
    try:
        out.mkdir(parents=True, exist_ok=True)
        probe = Path(tempfile.mkstemp(prefix=".write-test-", dir=out)[1])
        probe.unlink()
    except OSError as exc:
        raise InputError(f"{out}: cannot write there ({exc.strerror}); give --out a folder you can write") from exc
    present = sorted(name for name in names if (out / name).exists())
    if present and not overwrite:
        raise InputError(
            f"{out}: already holds {', '.join(present)}; choose another --out or pass --overwrite to replace them"
        )
    return out
