"""Fault injection for the test servers: an ASGI wrapper the tests steer over HTTP.

`GET /_faults?fail=N&status=500&delay=S` makes the next N requests answer `status` and
every request wait S seconds (until reset with `/_faults`). The real application behind
it is untouched, so every other request is answered by the real server.
"""

from __future__ import annotations

import asyncio
import json
from urllib.parse import parse_qs


class Faults:
    def __init__(self, app) -> None:
        self.app = app
        self.fail = 0
        self.status = 500
        self.delay = 0.0
        self.seen = 0

    async def _reply(self, send, status: int, body: dict) -> None:
        data = json.dumps(body).encode()
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(data)).encode())]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": data})

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        if scope["path"] == "/_faults":
            query = {k: v[0] for k, v in parse_qs(scope["query_string"].decode()).items()}
            self.fail = int(query.get("fail", 0))
            self.status = int(query.get("status", 500))
            self.delay = float(query.get("delay", 0))
            seen, self.seen = self.seen, 0
            return await self._reply(send, 200, {"fail": self.fail, "delay": self.delay, "seen": seen})
        self.seen += 1
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.fail > 0:
            self.fail -= 1
            return await self._reply(
                send, self.status, {"code": "InjectedFault", "description": "injected by the test"}
            )
        return await self.app(scope, receive, send)
