"""Checking a bundle: every checksum, no file missing or added, and the Ed25519 signature.

Each problem is one line naming the file and what is wrong, so a reader sees at once
whether a bundle is what its signer published.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
from pathlib import Path

import bagit

from sitewatch.base.errors import InputError
from sitewatch.base.keys import sha256_file
from sitewatch.evidence.bundle import PUBLIC_KEY, SIGNATURE, TAG_FILES, signed_message
from sitewatch.evidence.keys import fingerprint, load_public, signature_holds

TAG_MANIFEST = "tagmanifest-sha256.txt"


def _lines(exc: bagit.BagValidationError) -> list[str]:
    out = []
    for detail in exc.details or []:
        if isinstance(detail, bagit.ChecksumMismatch):
            out.append(f"{detail.path}: changed (its SHA-256 is not the one in the manifest)")
        elif isinstance(detail, bagit.FileMissing):
            out.append(f"{detail.path}: missing")
        elif isinstance(detail, bagit.UnexpectedFile):
            out.append(f"{detail.path}: not in the manifest (added after signing)")
        else:
            out.append(" ".join(str(detail).split()))
    missing = {line.split(":")[0] for line in out if line.endswith(": missing")}
    out = [line for line in out if not (line.split(":")[0] in missing and not line.endswith(": missing"))]
    return out or [" ".join(str(exc).split())]


def _tag_problems(bundle: Path) -> list[str]:
    """The tag files against the tag manifest, read here first: a changed manifest names itself."""
    problems = []
    try:
        lines = (bundle / TAG_MANIFEST).read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        return [f"{TAG_MANIFEST}: missing"]
    except (OSError, UnicodeDecodeError):
        return [f"{TAG_MANIFEST}: unreadable (changed after signing)"]
    listed = {}
    for line in lines:
        digest, _, name = line.strip().partition(" ")
        name = name.strip().lstrip("*")
        if len(digest) != 64 or not name or "/" in name or name.startswith("."):
            return [f"{TAG_MANIFEST}: changed after signing (line '{line[:80]}')"]
        listed[name] = digest
    for name, digest in sorted(listed.items()):
        path = bundle / name
        if not path.is_file():
            problems.append(f"{name}: missing")
        elif sha256_file(path) != digest:
            problems.append(f"{name}: changed (its SHA-256 is not the one in the tag manifest)")
    for name in (PUBLIC_KEY, "manifest-sha256.txt", "bag-info.txt", "bagit.txt"):
        if name not in listed:
            problems.append(f"{name}: not in the tag manifest; it was not part of what was signed")
    return problems


def _bag_problems(bundle: Path) -> list[str]:
    problems = _tag_problems(bundle)
    for path in sorted(bundle.iterdir()):
        if path.name != "data" and path.name not in TAG_FILES:
            problems.append(f"{path.name}: not part of a sitewatch bundle (added after signing)")
    if problems:  # the payload manifest itself cannot be trusted: stop at what is named
        return problems
    try:
        bag = bagit.Bag(str(bundle))
    except (bagit.BagError, ValueError, UnicodeDecodeError) as exc:
        return [f"{bundle}: not a BagIt bundle ({' '.join(str(exc).split())})"]
    # each check on its own (bagit's validate stops at the first): every payload file listed
    # and present, then every payload checksum
    for check in (bag._validate_completeness, lambda: bag._validate_entries(1)):
        try:
            check()
        except bagit.BagValidationError as exc:
            problems += _lines(exc)
        except (bagit.BagError, ValueError, OSError) as exc:
            problems.append(" ".join(str(exc).split()))
    return [p for p in problems if not p.startswith(tuple(f"{n} " for n in TAG_FILES))]


def _signature_problems(bundle: Path, expected_key: bytes | None) -> list[str]:
    try:
        record = json.loads((bundle / SIGNATURE).read_text(encoding="utf-8"))
        signature = base64.b64decode(record["signature"], validate=True)
        signed_at = str(record["signed_at"])
    except FileNotFoundError:
        return [f"{SIGNATURE}: missing; the bundle is not signed"]
    except (ValueError, KeyError, TypeError, binascii.Error):
        return [f"{SIGNATURE}: unreadable; the bundle's signature cannot be checked"]
    try:
        key = load_public((bundle / PUBLIC_KEY).read_bytes(), PUBLIC_KEY)
    except FileNotFoundError:
        return [f"{PUBLIC_KEY}: missing; the signature cannot be checked"]
    except InputError as exc:
        return [str(exc)]
    problems = []
    if not signature_holds(key, signature, signed_message(bundle, signed_at)):
        problems.append(f"{SIGNATURE}: the signature does not match the manifests and {PUBLIC_KEY}")
    if record.get("public_key_sha256") != fingerprint(key):
        problems.append(f"{PUBLIC_KEY}: not the key the signature names")
    if expected_key is not None:
        wanted = load_public(expected_key, "--key")
        if fingerprint(wanted) != fingerprint(key):
            signer, expected = fingerprint(key)[:16], fingerprint(wanted)[:16]
            problems.append(f"{PUBLIC_KEY}: signed with key {signer}..., not the expected {expected}...")
    return problems


def verify_bundle(bundle: Path, expected_key: bytes | None = None) -> list[str]:
    """Every problem of `bundle`, one line each (none: it is what was signed)."""
    logging.getLogger("bagit").setLevel(logging.CRITICAL)  # its log repeats the problems returned here
    if not bundle.is_dir():
        return [f"{bundle}: no such bundle folder"]
    if not (bundle / "bagit.txt").is_file():
        return [f"{bundle}: not a BagIt bundle (no bagit.txt); give the folder `sitewatch evidence` wrote"]
    problems = _bag_problems(bundle)
    if any("not a BagIt bundle" in p for p in problems):
        return problems
    return problems + _signature_problems(bundle, expected_key)
