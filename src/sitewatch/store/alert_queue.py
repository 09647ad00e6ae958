"""Which new events an analyst is told about: the site's alert rules, and the queued alert rows.

Per-site rules (`SiteRecord.alert_rules`): `min_area_m2`, `min_score`, `persistence` (looks
after the break that confirm it), `kinds` of interest, and targets: `webhooks` (URLs,
optional `secret`) and `emails` (with `smtp` host:port and `from`). One alert row per
event and target is added in the run's own transaction; `sitewatch.alerts` delivers them.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy.orm import Session

from sitewatch.store.models import Alert, Event, SiteRecord


def passes(rules: dict[str, Any], event: Event) -> bool:
    """Does a new, unsuppressed event pass the site's rules?"""
    if event.suppressed_by is not None:
        return False
    if event.inside_m2 < float(rules.get("min_area_m2", 0)):  # the part inside the site counts
        return False
    if event.score < float(rules.get("min_score", 0)):
        return False
    if (event.confirmations or 0) < int(rules.get("persistence", 0)):
        return False
    kinds = rules.get("kinds") or []
    return not kinds or event.kind in kinds


def targets(rules: dict[str, Any]) -> list[str]:
    return list(rules.get("webhooks", [])) + [f"mailto:{a}" for a in rules.get("emails", [])]


def queue_alerts(session: Session, site: SiteRecord, events: Iterable[Event]) -> list[Alert]:
    """Alert rows for the events that pass (call inside the run's transaction)."""
    rules = site.alert_rules or {}
    queued = []
    for event in events:
        if passes(rules, event):
            for target in targets(rules):
                alert = Alert(event_id=event.id, target=target)
                session.add(alert)
                queued.append(alert)
    return queued
