"""Workbench accounts and signed-in sessions.

Passwords are kept only as argon2id hashes (argon2-cffi's defaults, the RFC 9106 "low
memory" profile); a session is a random token in an HTTP-only cookie of which the store
keeps only the SHA-256, with its own CSRF token and an expiry.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from datetime import UTC, datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from sitewatch.base.errors import InputError
from sitewatch.base.vocab import Role, values
from sitewatch.store.audit import audit
from sitewatch.store.models import User, WebSession

#: A user name: letters, digits, '.', '_', '-' and '@', at most 100.
USER_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,99}")
MIN_PASSWORD = 10
MAX_PASSWORD = 1024  # argon2 takes any length; a megabyte "password" is an attack, not a password
SESSION_HOURS = 12
ROLES = values(Role)

_hasher = PasswordHasher()
#: Verified against when the user does not exist, so a wrong name costs the same time as a wrong password.
_DUMMY_HASH = _hasher.hash("not a password of anybody")


def check_user_name(name: str) -> str:
    if not USER_NAME.fullmatch(name):
        raise InputError(f"user name '{name[:60]}' is not allowed; use letters, digits, '.', '_', '-' or '@'")
    return name


def check_password(password: str) -> str:
    if len(password) < MIN_PASSWORD:
        raise InputError(f"the password is too short; use at least {MIN_PASSWORD} characters")
    if len(password) > MAX_PASSWORD:
        raise InputError(f"the password is too long; use at most {MAX_PASSWORD} characters")
    return password


def check_role(role: str) -> str:
    if role not in ROLES:
        raise InputError(f"role '{role[:40]}' is not known; use one of {', '.join(ROLES)}")
    return role


def add_user(session: Session, name: str, role: str, password: str, *, actor: str) -> User:
    check_user_name(name)
    check_role(role)
    check_password(password)
    if session.get(User, name) is not None:
        raise InputError(f"user '{name}' exists already; change the password with `sitewatch users passwd {name}`")
    user = User(name=name, role=role, password_hash=_hasher.hash(password))
    session.add(user)
    audit(session, actor, "user-add", f"user:{name}", role=role)
    session.commit()
    return user


def get_user(session: Session, name: str) -> User:
    user = session.get(User, name) if USER_NAME.fullmatch(name) else None
    if user is None:
        raise InputError(f"no user '{name[:60]}'; list them with `sitewatch users list`")
    return user


def list_users(session: Session) -> list[User]:
    return list(session.scalars(select(User).order_by(User.name)))


def remove_user(session: Session, name: str, *, actor: str) -> None:
    """Remove an account and sign it out everywhere (its reviews keep its name)."""
    user = get_user(session, name)
    session.execute(delete(WebSession).where(WebSession.user_name == name))
    session.delete(user)
    audit(session, actor, "user-remove", f"user:{name}")
    session.commit()


def set_password(session: Session, name: str, password: str, *, actor: str, role: str | None = None) -> User:
    """A new password (and role, if given); every session of the user is signed out."""
    user = get_user(session, name)
    check_password(password)
    user.password_hash = _hasher.hash(password)
    user.password_changed_at = datetime.now(UTC)
    if role is not None:
        user.role = check_role(role)
    session.execute(delete(WebSession).where(WebSession.user_name == name))
    audit(session, actor, "user-passwd", f"user:{name}", role=user.role)
    session.commit()
    return user


def authenticate(session: Session, name: str, password: str) -> User | None:
    """The user if the password is right, else None (in about the same time either way)."""
    user = session.get(User, name) if USER_NAME.fullmatch(name) and len(password) <= MAX_PASSWORD else None
    try:
        _hasher.verify(user.password_hash if user else _DUMMY_HASH, password)
    except (VerificationError, InvalidHashError):
        return None
    if user is None:
        return None
    if _hasher.check_needs_rehash(user.password_hash):  # parameters raised since it was hashed
        user.password_hash = _hasher.hash(password)
        session.commit()
    return user


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def start_session(session: Session, user: User) -> tuple[str, WebSession]:
    """A new session: (cookie token, stored row). Expired sessions are swept at the same time."""
    now = datetime.now(UTC)
    session.execute(delete(WebSession).where(WebSession.expires_at < now))
    token = secrets.token_urlsafe(32)
    row = WebSession(
        token_sha256=_digest(token),
        user_name=user.name,
        csrf_token=secrets.token_urlsafe(32),
        created_at=now,
        expires_at=now + timedelta(hours=SESSION_HOURS),
    )
    session.add(row)
    session.commit()
    return token, row


def session_user(session: Session, token: str) -> tuple[WebSession, User] | None:
    """The live session of a cookie token and its user, or None."""
    if not token or len(token) > 100:
        return None
    row = session.get(WebSession, _digest(token))
    if row is None:
        return None
    expires = row.expires_at if row.expires_at.tzinfo else row.expires_at.replace(tzinfo=UTC)  # SQLite drops tz
    if expires < datetime.now(UTC):
        return None
    user = session.get(User, row.user_name)
    return (row, user) if user is not None else None


def end_session(session: Session, token: str) -> None:
    session.execute(delete(WebSession).where(WebSession.token_sha256 == _digest(token)))
    session.commit()
