"""Who is asking: session cookies, roles, CSRF tokens and the sign-in throttle.

Every page and API call needs a signed-in user (pages redirect to the sign-in page, the API
answers 401). Every state-changing request carries the session's CSRF token (a form field
or the `X-CSRF-Token` header), compared in constant time; the sign-in form, before there
is a session, uses a double-submit cookie instead.
"""

from __future__ import annotations

import hmac
import secrets
import threading
import time
from dataclasses import dataclass

from fastapi import HTTPException, Request

from sitewatch.base.vocab import Role
from sitewatch.store.accounts import session_user
from sitewatch.web.settings import LOGIN_FIRST_WAIT_S, LOGIN_FREE_FAILURES, LOGIN_MAX_WAIT_S

SESSION_COOKIE = "sitewatch_session"
LOGIN_CSRF_COOKIE = "sitewatch_login"
CSRF_HEADER = "x-csrf-token"
RANK = {Role.viewer: 0, Role.analyst: 1, Role.admin: 2}


@dataclass(frozen=True)
class Viewer:
    """The signed-in user of a request."""

    name: str
    role: str
    csrf_token: str

    def may(self, role: Role) -> bool:
        return RANK.get(Role(self.role), -1) >= RANK[role]


class NotSignedIn(Exception):
    """No valid session: pages send the browser to the sign-in page, the API answers 401."""


def current_viewer(request: Request) -> Viewer:
    """The request's user (a FastAPI dependency); raises NotSignedIn without a live session."""
    token = request.cookies.get(SESSION_COOKIE, "")
    with request.app.state.store.session() as session:
        found = session_user(session, token)
        if found is None:
            raise NotSignedIn()
        row, user = found
        return Viewer(user.name, user.role, row.csrf_token)


def require(viewer: Viewer, role: Role) -> None:
    if not viewer.may(role):
        raise HTTPException(403, f"your role ({viewer.role}) cannot do this; an admin can give you the {role} role")


def same_token(given: str | None, expected: str) -> bool:
    return bool(given) and hmac.compare_digest(given.encode(), expected.encode())


def check_csrf(request: Request, viewer: Viewer, form_token: str | None = None) -> None:
    given = form_token or request.headers.get(CSRF_HEADER)
    if not same_token(given, viewer.csrf_token):
        raise HTTPException(403, "missing or wrong CSRF token; reload the page and try again")


def new_login_token() -> str:
    return secrets.token_urlsafe(24)


class LoginThrottle:
    """Failed sign-ins per (user name, address): after LOGIN_FREE_FAILURES, each try must wait.

    The wait doubles with every further failure, up to LOGIN_MAX_WAIT_S; a success clears
    it. Kept in the server's memory: one server process is the deployment this is for.
    """

    def __init__(self) -> None:
        self._failures: dict[tuple[str, str], tuple[int, float]] = {}
        self._lock = threading.Lock()

    def wait_s(self, name: str, address: str) -> float:
        """Seconds before this pair may try again (0: now)."""
        with self._lock:
            count, last = self._failures.get((name.casefold(), address), (0, 0.0))
        if count < LOGIN_FREE_FAILURES:
            return 0.0
        wait = min(LOGIN_FIRST_WAIT_S * 2 ** (count - LOGIN_FREE_FAILURES), LOGIN_MAX_WAIT_S)
        return max(0.0, last + wait - time.monotonic())

    def failed(self, name: str, address: str) -> None:
        with self._lock:
            key = (name.casefold(), address)
            count, _ = self._failures.get(key, (0, 0.0))
            self._failures[key] = (count + 1, time.monotonic())
            if len(self._failures) > 100_000:  # a flood of made-up names must not grow memory without end
                self._failures.pop(next(iter(self._failures)))

    def succeeded(self, name: str, address: str) -> None:
        with self._lock:
            self._failures.pop((name.casefold(), address), None)
