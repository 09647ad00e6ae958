"""The audit log: who reviewed an event, changed a site's rules or an account, and when.

Entries are added in the same transaction as the change they describe, so a change is
never stored without its entry (or the other way round).
"""

from __future__ import annotations

import getpass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from sitewatch.base.safety import clean_text
from sitewatch.store.models import AuditEntry


def cli_actor() -> str:
    """The actor of a change made with the CLI: the login name of whoever ran it."""
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):  # no login name in a container without a passwd entry
        return "cli:unknown"


def audit(session: Session, actor: str, action: str, target: str, **detail: Any) -> AuditEntry:
    """Add an entry to the caller's transaction (the caller commits)."""
    entry = AuditEntry(actor=clean_text(actor)[:200], action=action, target=clean_text(target)[:200], detail=detail)
    session.add(entry)
    return entry


def audit_entries(session: Session, *, target: str | None = None, limit: int = 200) -> list[AuditEntry]:
    """The newest entries first (of one target, e.g. `event:17` or `site:paris-1`)."""
    query = select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit)
    if target is not None:
        query = query.where(AuditEntry.target == target)
    return list(session.scalars(query))
