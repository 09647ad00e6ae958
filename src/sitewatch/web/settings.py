"""What one workbench server was started with."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

#: Requests larger than this are refused before they are read (a review is a few hundred bytes).
MAX_BODY_BYTES = 64 * 1024
#: Failed sign-ins per user name and address before each further try must wait.
LOGIN_FREE_FAILURES = 5
#: The first wait after that, doubled per further failure, at most LOGIN_MAX_WAIT_S.
LOGIN_FIRST_WAIT_S = 30.0
LOGIN_MAX_WAIT_S = 900.0


@dataclass(frozen=True)
class Settings:
    store_url: str | None
    looks_dir: Path
    secure_cookies: bool = False  # served over TLS: cookies only travel encrypted
    basemap: str | None = None  # an XYZ tile URL template for a background map, when the analyst has one
