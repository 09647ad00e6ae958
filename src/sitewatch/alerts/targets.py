"""Where alerts may go: webhook URLs checked against server-side request forgery, and secrets by reference.

A watchlist's rules come from whoever shares it. A webhook pointing at 127.0.0.1, a cloud
metadata address (169.254.169.254) or a host on the private network would make sitewatch
carry signed requests into places its user never meant to reach. So a webhook must be
https, and every address its host resolves to must be public, unless the analyst allows
http or private targets explicitly for that site (an in-house receiver). The check runs
when the rule is set and again before each delivery (DNS can change).

Webhook secrets never enter the store: a rule holds a reference, `env:NAME` (an environment
variable) or `file:PATH` (a file holding the secret), resolved at delivery.
"""

from __future__ import annotations

import ipaddress
import os
import socket
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from sitewatch.base.errors import InputError
from sitewatch.base.safety import mask_url


def check_webhook(url: str, *, allow_http: bool = False, allow_private: bool = False, resolve: bool = True) -> str:
    """`url` if it may receive alerts; else one error line saying why and which option allows it."""
    shown = mask_url(url)
    try:
        parts = urlsplit(url)
        host = parts.hostname
        port = parts.port
    except ValueError as exc:
        raise InputError(f"webhook '{shown}' is not a valid URL ({exc})") from exc
    if parts.scheme not in ("https", "http") or not host:
        raise InputError(f"webhook '{shown}' is not an https URL")
    if parts.scheme == "http" and not allow_http:
        raise InputError(f"webhook '{shown}' is plain http; use https, or allow it with --allow-http")
    if parts.username or parts.password:
        raise InputError(f"webhook '{shown}' carries credentials in the URL; use --secret-env or --secret-file")
    if resolve and not allow_private:
        for address in _addresses(host, port or (443 if parts.scheme == "https" else 80), shown):
            if not address.is_global or address.is_multicast:
                raise InputError(
                    f"webhook '{shown}' resolves to {address}, a loopback, private, link-local or reserved "
                    "address; allow it with --allow-private-targets if the receiver is yours"
                )
    return url


def _addresses(host: str, port: int, shown: str) -> list[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise InputError(f"webhook '{shown}': host '{host}' does not resolve ({exc})") from exc
    return [ipaddress.ip_address(info[4][0].split("%")[0]) for info in infos]


def secret_reference(env: str | None, file: Path | None) -> str | None:
    """The reference a rule stores for `--secret-env NAME` or `--secret-file PATH` (never the secret)."""
    if env and file:
        raise InputError("give --secret-env or --secret-file, not both")
    if env:
        if not env.replace("_", "").isalnum():
            raise InputError(f"--secret-env '{env}' is not an environment variable name")
        return f"env:{env}"
    if file:
        if not file.is_file():
            raise InputError(f"--secret-file {file}: no such file; write the secret into it first")
        return f"file:{file.resolve()}"
    return None


def resolve_secret(rules: dict[str, Any]) -> str | None:
    """The webhook secret a rule refers to (None: unsigned). Raises LookupError when it cannot be read."""
    reference = rules.get("secret_ref")
    if not reference:
        return rules.get("secret")  # stores written before secrets moved out of them
    kind, _, name = str(reference).partition(":")
    if kind == "env":
        value = os.environ.get(name)
        if not value:
            raise LookupError(f"secret environment variable {name} is not set")
        return value
    try:
        return Path(name).read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise LookupError(f"secret file {name} cannot be read ({exc.strerror})") from exc
