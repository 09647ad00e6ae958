"""Protections on every response and request: security headers and a cap on body size.

Plain ASGI middleware (no per-request thread hop): the headers forbid inline scripts and
framing, and a body over MAX_BODY_BYTES is refused with 413 before it is read, whether it
declares its length or arrives in chunks.
"""

from __future__ import annotations

import json
import time
from urllib.parse import urlsplit

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sitewatch.web.settings import MAX_BODY_BYTES


def content_security_policy(basemap: str | None) -> str:
    """No inline script or style; images and fetches from this server (and the basemap's host, if any)."""
    extra = ""
    if basemap:
        parts = urlsplit(basemap.replace("{", "").replace("}", ""))
        extra = f" {parts.scheme}://{parts.netloc}"
    return (
        "default-src 'none'; script-src 'self'; style-src 'self'; "
        f"img-src 'self' data: blob:{extra}; connect-src 'self'{extra}; worker-src 'self'; "
        "font-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    )


class SecurityHeaders:
    """The security headers on every response, and `Server-Timing: app;dur=MS` (the time the
    app took until its response started: what `bench/web.py` reports as server time)."""

    def __init__(self, app: ASGIApp, *, basemap: str | None = None, tls: bool = False) -> None:
        self.app = app
        headers = {
            "content-security-policy": content_security_policy(basemap),
            "x-content-type-options": "nosniff",
            "x-frame-options": "DENY",
            "referrer-policy": "same-origin",
            "cross-origin-opener-policy": "same-origin",
        }
        if tls:
            headers["strict-transport-security"] = "max-age=31536000"
        self.headers = [(k.encode(), v.encode()) for k, v in headers.items()]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        started = time.perf_counter()

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                took = f"app;dur={(time.perf_counter() - started) * 1000:.1f}".encode()
                message["headers"] = [*message.get("headers", []), *self.headers, (b"server-timing", took)]
            await send(message)

        await self.app(scope, receive, with_headers)


async def _too_large(send: Send) -> None:
    body = json.dumps({"error": f"request body over {MAX_BODY_BYTES // 1024} KiB; send less"}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})


class BodyLimit:
    """Read a request's body (at most `limit` bytes) before the app sees it; 413 past that.

    Reading first, rather than counting as the app reads, gives a clean 413 whether the
    body declared its length or came in chunks; 64 KiB held briefly costs nothing.
    """

    def __init__(self, app: ASGIApp, limit: int = MAX_BODY_BYTES) -> None:
        self.app, self.limit = app, limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers", [])).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.limit):
            await _too_large(send)
            return
        body, more = b"", True
        while more:
            message = await receive()
            if message["type"] != "http.request":  # the client went away
                return
            body += message.get("body", b"")
            more = message.get("more_body", False)
            if len(body) > self.limit:
                await _too_large(send)
                return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()  # after the body: wait for the disconnect, as Starlette expects

        await self.app(scope, replay, send)
