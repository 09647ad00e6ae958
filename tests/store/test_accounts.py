"""Workbench accounts and sessions, on SQLite and PostgreSQL; `sitewatch users` as a process."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from sitewatch.base.errors import InputError
from sitewatch.store import open_store
from sitewatch.store.accounts import (
    add_user,
    authenticate,
    remove_user,
    session_user,
    set_password,
    start_session,
)
from sitewatch.store.models import AuditEntry, User, WebSession
from tests.cli.run import sitewatch

PASSWORD = "correct horse battery"


def test_accounts_sessions_and_their_audit(store_url):
    with open_store(store_url).session() as session:
        add_user(session, "ana", "analyst", PASSWORD, actor="cli:root")
        stored = session.get(User, "ana")
        assert stored.password_hash.startswith("$argon2id$") and PASSWORD not in stored.password_hash
        assert authenticate(session, "ana", PASSWORD).name == "ana"
        assert authenticate(session, "ana", "wrong password!") is None
        assert authenticate(session, "nobody", PASSWORD) is None
        token, row = start_session(session, stored)
        assert session.get(WebSession, token) is None  # only the token's digest is stored
        assert session_user(session, token)[1].name == "ana"
        assert session_user(session, token + "x") is None
        row.expires_at = datetime.now(UTC) - timedelta(seconds=1)
        session.commit()
        assert session_user(session, token) is None  # expired
        token, _ = start_session(session, stored)
        set_password(session, "ana", "another good password", actor="cli:root", role="viewer")
        assert session_user(session, token) is None  # a new password signs the account out everywhere
        assert authenticate(session, "ana", "another good password").role == "viewer"
        remove_user(session, "ana", actor="cli:root")
        assert session.get(User, "ana") is None
        actions = [(e.actor, e.action, e.target) for e in session.scalars(select(AuditEntry).order_by(AuditEntry.id))]
        assert actions == [
            ("cli:root", "user-add", "user:ana"),
            ("cli:root", "user-passwd", "user:ana"),
            ("cli:root", "user-remove", "user:ana"),
        ]


@pytest.mark.parametrize(
    ("name", "role", "password", "needle"),
    [
        ("../x", "analyst", PASSWORD, "user name"),
        ("ana", "root", PASSWORD, "role 'root'"),
        ("ana", "analyst", "short", "too short"),
        ("ana", "analyst", "x" * 2000, "too long"),
    ],
)
def test_bad_accounts_are_refused(tmp_path, name, role, password, needle):
    with open_store(f"sqlite:///{tmp_path / 'store.db'}").session() as session:
        with pytest.raises(InputError, match=needle):
            add_user(session, name, role, password, actor="test")
        assert session.scalars(select(User)).all() == []


def test_users_command(tmp_path):
    db = f"sqlite:///{tmp_path / 'store.db'}"
    added = sitewatch("users", "--db", db, "add", "ana", "--role", "admin", "--password-stdin", input=PASSWORD)
    assert added.returncode == 0, added.stderr
    again = sitewatch("users", "--db", db, "add", "ana", "--password-stdin", input=PASSWORD)
    assert again.returncode == 2 and "exists already" in again.stderr and "Traceback" not in again.stderr
    short = sitewatch("users", "--db", db, "passwd", "ana", "--password-stdin", input="short\n")
    assert short.returncode == 2 and "too short" in short.stderr
    listed = sitewatch("users", "--db", db, "list")
    assert "ana" in listed.stdout and "admin" in listed.stdout
    unknown = sitewatch("users", "--db", db, "remove", "bob")
    assert unknown.returncode == 2 and "no user 'bob'" in unknown.stderr
    assert sitewatch("users", "--db", db, "remove", "ana").returncode == 0
