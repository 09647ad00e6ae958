"""Restore the float models behind the learned detector's figures from this repository's git history.

The leave-one-city-out fold models (`folds/`) and the shipped files' float members
(`members/`) are 200 MB of ONNX files: they stay out of the working tree and out of every
wheel. `models.json` at the repository root records, for each file, its SHA-256, its size
and a commit that holds it; this script reads each file from that commit and checks it.

    python scripts/restore_models.py --list                 # the groups and their sizes
    python scripts/restore_models.py folds/r1 folds/ftm folds/ft3am
    python scripts/restore_models.py members --dest /tmp/models

A group is a path prefix (`folds`, `folds/r1`, `members/ft3am`...); no group restores
everything. Files already there with the right checksum are kept. Needs a clone with
history (`git fetch --unshallow` in a shallow one). Exit 2 on a problem, with one line.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
REGISTRY = REPO / "models.json"


def fail(message: str) -> None:
    print(f"error: {message}", file=sys.stderr)
    raise SystemExit(2)


def registry() -> dict:
    return json.loads(REGISTRY.read_text())


def chosen(entries: list[dict], groups: list[str]) -> list[dict]:
    """Entries under any of the group prefixes (all when none is given)."""
    if not groups:
        return entries
    prefixes = [g.rstrip("/") + "/" for g in groups]
    picked = [e for e in entries if any(e["path"].startswith(p) for p in prefixes)]
    unknown = [g for g, p in zip(groups, prefixes, strict=True) if not any(e["path"].startswith(p) for e in entries)]
    if unknown:
        fail(f"no model file under {', '.join(unknown)} in {REGISTRY.name}; see --list")
    return picked


def sha256(path: Path) -> str | None:
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else None


def read_blobs(repo: Path, specs: list[str]) -> list[bytes]:
    """The contents of `COMMIT:PATH` specs, through one `git cat-file --batch`."""
    try:
        process = subprocess.run(
            ["git", "-C", str(repo), "cat-file", "--batch"],
            input="".join(f"{s}\n" for s in specs).encode(),
            capture_output=True,
            check=True,
        )
    except (OSError, subprocess.CalledProcessError) as exc:
        fail(f"cannot read git history in {repo} ({exc}); restore from a git clone of the project")
    out, blobs, position = process.stdout, [], 0
    for spec in specs:
        end = out.index(b"\n", position)
        header = out[position:end].decode()
        if header.endswith("missing"):
            fail(f"{spec}: not in this clone's history; run `git fetch --unshallow` (or clone without --depth)")
        size = int(header.split()[2])
        blobs.append(out[end + 1 : end + 1 + size])
        position = end + 1 + size + 1
    return blobs


def restore(entries: list[dict], dest: Path) -> tuple[int, int]:
    """Write every entry under `dest` (checked, atomically); (restored, already there)."""
    todo = [e for e in entries if sha256(dest / e["path"]) != e["sha256"]]
    for entry, blob in zip(todo, read_blobs(REPO, [f"{e['commit']}:{e['path']}" for e in todo]), strict=True):
        digest = hashlib.sha256(blob).hexdigest()
        if digest != entry["sha256"]:
            fail(f"{entry['path']} at {entry['commit'][:12]}: SHA-256 {digest[:16]}... is not the registered one")
        target = dest / entry["path"]
        target.parent.mkdir(parents=True, exist_ok=True)
        part = target.with_name(target.name + ".part")
        part.write_bytes(blob)
        os.replace(part, target)
    return len(todo), len(entries) - len(todo)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("groups", nargs="*", help="path prefixes to restore (default: every file)")
    parser.add_argument("--dest", type=Path, default=REPO, help="folder to restore into (default: the repository)")
    parser.add_argument("--list", action="store_true", help="list the groups with file counts and sizes")
    args = parser.parse_args(argv)
    doc = registry()
    if args.list:
        for group, about in doc["groups"].items():
            files = [e for e in doc["files"] if e["path"].startswith(group + "/")]
            size = sum(e["bytes"] for e in files) / 1e6
            print(f"{group:<16} {len(files):>3} files {size:7.1f} MB  {about}")
        return
    entries = chosen(doc["files"], args.groups)
    restored, kept = restore(entries, args.dest)
    print(f"restored {restored} file(s), {kept} already in place, under {args.dest}")


if __name__ == "__main__":
    main()
