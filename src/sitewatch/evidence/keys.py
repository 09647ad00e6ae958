"""Ed25519 signing keys for evidence bundles (the `cryptography` package).

The private key stays with the analyst (a PEM file readable by its owner only); the public
key travels in every bundle and can be published, so a reader can check that a bundle was
signed by the key they expect, not only by some key.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from sitewatch.base.errors import InputError

PRIVATE_NAME = "sitewatch-signing.key"
PUBLIC_NAME = "sitewatch-signing.pub"


def new_key_pair(folder: Path, *, overwrite: bool = False) -> tuple[Path, Path]:
    """Write a new key pair into `folder`: (private key, 0600; public key). An existing pair is kept."""
    folder.mkdir(parents=True, exist_ok=True)
    private, public = folder / PRIVATE_NAME, folder / PUBLIC_NAME
    if (private.exists() or public.exists()) and not overwrite:
        raise InputError(f"{folder}: holds a key pair already; keep it, or give --overwrite to replace it")
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    descriptor = os.open(private, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "wb") as out:
        out.write(pem)
    public.write_bytes(public_pem(key.public_key()))
    return private, public


def public_pem(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def fingerprint(key: Ed25519PublicKey) -> str:
    """SHA-256 of the raw public key, hex: what to publish and compare."""
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()


def load_private(path: Path) -> Ed25519PrivateKey:
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except FileNotFoundError as exc:
        raise InputError(f"{path}: no such key file; make one with `sitewatch keys new`") from exc
    except (ValueError, TypeError) as exc:
        raise InputError(f"{path}: not an unencrypted PEM private key; make one with `sitewatch keys new`") from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise InputError(f"{path}: not an Ed25519 key; make one with `sitewatch keys new`")
    return key


def load_public(data: bytes, where: str) -> Ed25519PublicKey:
    try:
        key = serialization.load_pem_public_key(data)
    except (ValueError, TypeError) as exc:
        raise InputError(f"{where}: not a PEM public key") from exc
    if not isinstance(key, Ed25519PublicKey):
        raise InputError(f"{where}: not an Ed25519 public key")
    return key


def signature_holds(key: Ed25519PublicKey, signature: bytes, message: bytes) -> bool:
    try:
        key.verify(signature, message)
    except InvalidSignature:
        return False
    return True
