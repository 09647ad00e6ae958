"""Delivering queued alerts exactly once: webhooks (JSON POST, HMAC-SHA256) and e-mail.

The store queues an alert row in the same transaction as the event it is about
(`sitewatch.store.alert_queue`), so it cannot be lost; here it is marked delivered only
after the receiver said so, every attempt is recorded, and a pending alert is tried again
on the next run: never lost, never sent twice.

No store lock is held while the network is used: an alert is *claimed* in a short locked
transaction (its `claimed_at` set), delivered with no transaction open, and its attempts
recorded in another short one. A claim older than `CLAIM_LEASE` (a process killed while
delivering) is taken again. Each try is bounded by `timeout` and the whole phase by
`budget_s`: what is left stays pending for the next run, so a silent receiver can neither
hang a run nor lock analysts out of the store.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import smtplib
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from typing import Any

import requests
import shapely
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from sitewatch import __version__
from sitewatch.alerts.targets import check_webhook, resolve_secret
from sitewatch.base.errors import InputError
from sitewatch.base.safety import mask_url
from sitewatch.store.models import Alert, Delivery, Event, SiteRecord
from sitewatch.store.repo import write_lock

SIGNATURE_HEADER = "X-Sitewatch-Signature"
WEBHOOK_ATTEMPTS = 3
#: A claim older than this is a delivery that died with its process: the alert is pending again.
CLAIM_LEASE = timedelta(minutes=10)


@dataclass
class DeliveryReport:
    """What one delivery phase did."""

    delivered: list[int] = field(default_factory=list)  # alert ids
    failed: list[int] = field(default_factory=list)  # tried, not delivered: pending for the next run
    left: int = 0  # pending alerts not tried because the time budget ran out


def payload(event: Event, site: SiteRecord) -> dict[str, Any]:
    geometry = shapely.from_wkt(event.geometry_wkt)
    return {
        "sitewatch_version": __version__,
        "site": {"id": site.id, "name": site.name},
        "event": {
            "id": event.id,
            "kind": event.kind,
            "area_m2": round(event.area_m2, 1),
            "area_inside_site_m2": round(event.inside_m2, 1),
            "score": round(event.score, 3),
            "before_date": event.before_date,
            "after_date": event.after_date,
            "confirmations": event.confirmations,
            "geometry": shapely.geometry.mapping(geometry),
        },
    }


def sign(body: bytes, secret: str) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def _post(url: str, body: bytes, rules: dict[str, Any], timeout: float, alert_id: int) -> tuple[bool, str]:
    try:
        check_webhook(url, allow_http=bool(rules.get("allow_http")), allow_private=bool(rules.get("allow_private")))
        secret = resolve_secret(rules)
    except (InputError, LookupError) as exc:
        return False, f"refused: {exc}"
    # The alert id lets a receiver drop a repeat if its answer to an earlier try was lost.
    headers = {"Content-Type": "application/json", "X-Sitewatch-Alert-Id": str(alert_id)}
    if secret:
        headers[SIGNATURE_HEADER] = sign(body, secret)
    try:
        # never follow a redirect: it would carry the body and its signature to another place
        response = requests.post(url, data=body, headers=headers, timeout=timeout, allow_redirects=False)
    except requests.RequestException as exc:
        return False, type(exc).__name__
    if response.is_redirect or 300 <= response.status_code < 400:
        return False, f"HTTP {response.status_code} redirect not followed"
    return response.ok, f"HTTP {response.status_code}"


def _mail(address: str, body: bytes, rules: dict[str, Any], subject: str, timeout: float) -> tuple[bool, str]:
    host, _, port = str(rules.get("smtp", "localhost:25")).partition(":")
    message = EmailMessage()
    message["From"] = rules.get("from", "sitewatch@localhost")
    message["To"] = address
    message["Subject"] = subject
    message.set_content(json.dumps(json.loads(body), indent=1))
    try:
        with smtplib.SMTP(host, int(port or 25), timeout=timeout) as smtp:
            smtp.send_message(message)
    except (OSError, ValueError, smtplib.SMTPException) as exc:
        return False, type(exc).__name__
    return True, "sent"


def _claim(session: Session, skip: set[int], only: list[int] | None) -> Alert | None:
    """Take the next pending alert not claimed by a live delivery, under the store's write lock."""
    session.rollback()
    write_lock(session, "alerts")
    stale = datetime.now(UTC) - CLAIM_LEASE
    query = (
        select(Alert)
        .where(Alert.status == "pending", or_(Alert.claimed_at.is_(None), Alert.claimed_at < stale))
        .order_by(Alert.id)
        .limit(1)
    )
    if skip:
        query = query.where(Alert.id.not_in(skip))
    if only is not None:
        query = query.where(Alert.id.in_(only))
    alert = session.scalar(query)
    if alert is not None:
        alert.claimed_at = datetime.now(UTC)
    session.commit()  # the lock goes with the transaction: nothing is held during the network
    return alert


def deliver_pending(
    session: Session,
    *,
    timeout: float = 10.0,
    backoff_s: float = 0.5,
    budget_s: float = 120.0,
    only: list[int] | None = None,
) -> DeliveryReport:
    """Try every pending alert (or the ids in `only`) once, within `budget_s` seconds in all."""
    report = DeliveryReport()
    tried: set[int] = set()
    deadline = time.monotonic() + budget_s
    while True:
        if time.monotonic() > deadline:
            report.left = _pending_count(session, tried, only)
            return report
        alert = _claim(session, tried, only)
        if alert is None:
            session.rollback()
            return report
        tried.add(alert.id)
        attempts, ok = _attempt(session, alert, timeout, backoff_s, deadline)
        for attempt_ok, detail in attempts:
            session.add(Delivery(alert_id=alert.id, ok=attempt_ok, detail=detail))
        alert.claimed_at = None
        if ok:
            alert.status, alert.delivered_at = "delivered", datetime.now(UTC)
            report.delivered.append(alert.id)
        else:
            report.failed.append(alert.id)
        session.commit()


def _pending_count(session: Session, tried: set[int], only: list[int] | None) -> int:
    query = select(Alert.id).where(Alert.status == "pending")
    ids = [i for i in session.scalars(query) if i not in tried and (only is None or i in only)]
    session.rollback()
    return len(ids)


def _attempt(
    session: Session, alert: Alert, timeout: float, backoff_s: float, deadline: float
) -> tuple[list[tuple[bool, str]], bool]:
    """Deliver one alert (webhooks up to 3 tries with back-off); the attempts made and whether one succeeded."""
    event = session.get(Event, alert.event_id)
    site = session.get(SiteRecord, event.site_id)
    rules = dict(site.alert_rules or {})
    body = json.dumps(payload(event, site), sort_keys=True).encode()
    session.commit()  # end the read transaction before the network
    tries = 1 if alert.target.startswith("mailto:") else WEBHOOK_ATTEMPTS
    attempts: list[tuple[bool, str]] = []
    for attempt in range(tries):
        budget = max(0.5, min(timeout, deadline - time.monotonic()))
        if alert.target.startswith("mailto:"):
            subject = f"sitewatch: {event.kind} at {site.name} ({event.inside_m2:,.0f} m²)"
            ok, detail = _mail(alert.target[len("mailto:") :], body, rules, subject, budget)
        else:
            ok, detail = _post(alert.target, body, rules, budget, alert.id)
        attempts.append((ok, detail))
        if ok or detail.startswith("refused") or time.monotonic() > deadline:
            return attempts, ok
        if attempt + 1 < tries:
            time.sleep(backoff_s * 2**attempt)
    return attempts, False


def describe_target(target: str) -> str:
    """A target as it may be printed (tokens in URLs masked)."""
    return target if target.startswith("mailto:") else mask_url(target)
