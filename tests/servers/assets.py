"""Static COG server with HTTP range requests (Starlette's FileResponse), behind the fault injector.

Files under `/open/` are served to anyone; files under `/signed/` only with `?token=` equal
to SITEWATCH_TEST_TOKEN, as a signed-URL store (Planetary Computer SAS tokens) would.
"""

import os

from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.staticfiles import StaticFiles

from tests.servers.faults import Faults

ROOT = os.environ["SITEWATCH_TEST_ASSETS"]
TOKEN = os.environ.get("SITEWATCH_TEST_TOKEN", "")


class SignedFiles:
    def __init__(self, files) -> None:
        self.files = files

    async def __call__(self, scope, receive, send) -> None:
        query = scope.get("query_string", b"").decode()
        if f"token={TOKEN}" not in query.split("&"):
            response = PlainTextResponse("missing or wrong token", status_code=403)
            return await response(scope, receive, send)
        return await self.files(scope, receive, send)


inner = Starlette()
inner.mount("/open", StaticFiles(directory=ROOT))
inner.mount("/signed", SignedFiles(StaticFiles(directory=ROOT)))
app = Faults(inner)
