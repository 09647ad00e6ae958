"""Content keys: SHA-256 of canonical JSON, so equal inputs and parameters give equal keys.

The cube cache names cleaned cubes by it and the store recognises a run already stored by
it; both include the sitewatch version, since another version may compute differently.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from sitewatch import __version__


def content_key(parts: dict[str, Any]) -> str:
    """SHA-256 of `parts` (canonical JSON) together with the sitewatch version."""
    text = json.dumps({"sitewatch": __version__, **parts}, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def file_fingerprint(path: Path) -> dict[str, Any]:
    """What identifies a local file cheaply (path, size, modification time), without reading it."""
    stat = path.stat()
    return {"path": str(path.resolve()), "size": stat.st_size, "mtime_ns": stat.st_mtime_ns}


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    """SHA-256 of a file's bytes, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()
