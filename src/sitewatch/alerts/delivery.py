"""Delivering queued alerts exactly once: webhooks (JSON POST, HMAC-SHA256) and e-mail.

The store queues an alert row in the same transaction as the event it is about
(`sitewatch.store.alert_queue`), so it cannot be lost; here it is marked delivered only
after the receiver said so, every attempt is recorded, and a pending alert is tried again
on the next run: never lost, never sent twice.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import smtplib
import time
from datetime import UTC, datetime
from email.message import EmailMessage
from typing import Any

import requests
import shapely
from sqlalchemy import select
from sqlalchemy.orm import Session

from sitewatch import __version__
from sitewatch.store.models import Alert, Delivery, Event, SiteRecord
from sitewatch.store.repo import write_lock

SIGNATURE_HEADER = "X-Sitewatch-Signature"
WEBHOOK_ATTEMPTS = 3


def payload(event: Event, site: SiteRecord) -> dict[str, Any]:
    geometry = shapely.from_wkt(event.geometry_wkt)
    return {
        "sitewatch_version": __version__,
        "site": {"id": site.id, "name": site.name},
        "event": {
            "id": event.id,
            "kind": event.kind,
            "area_m2": round(event.area_m2, 1),
            "score": round(event.score, 3),
            "before_date": event.before_date,
            "after_date": event.after_date,
            "confirmations": event.confirmations,
            "geometry": shapely.geometry.mapping(geometry),
        },
    }


def sign(body: bytes, secret: str) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def _post(url: str, body: bytes, secret: str | None, timeout: float, alert_id: int) -> tuple[bool, str]:
    # The alert id lets a receiver drop a repeat if its answer to an earlier try was lost.
    headers = {"Content-Type": "application/json", "X-Sitewatch-Alert-Id": str(alert_id)}
    if secret:
        headers[SIGNATURE_HEADER] = sign(body, secret)
    try:
        response = requests.post(url, data=body, headers=headers, timeout=timeout)
    except requests.RequestException as exc:
        return False, type(exc).__name__
    return response.ok, f"HTTP {response.status_code}"


def _mail(address: str, body: bytes, rules: dict[str, Any], subject: str) -> tuple[bool, str]:
    host, _, port = str(rules.get("smtp", "localhost:25")).partition(":")
    message = EmailMessage()
    message["From"] = rules.get("from", "sitewatch@localhost")
    message["To"] = address
    message["Subject"] = subject
    message.set_content(json.dumps(json.loads(body), indent=1))
    try:
        with smtplib.SMTP(host, int(port or 25), timeout=30) as smtp:
            smtp.send_message(message)
    except (OSError, smtplib.SMTPException) as exc:
        return False, type(exc).__name__
    return True, "sent"


def deliver_pending(session: Session, *, timeout: float = 10.0, backoff_s: float = 0.5) -> list[Alert]:
    """Try every pending alert (webhooks up to 3 times with back-off); record each attempt.

    Each alert is claimed under the store's write lock and its attempts committed before
    the lock is let go, so two processes delivering at once never send one alert twice.
    """
    delivered: list[Alert] = []
    tried: set[int] = set()
    while True:
        session.rollback()
        write_lock(session, "alerts")
        query = select(Alert).where(Alert.status == "pending").order_by(Alert.id).limit(1)
        if tried:
            query = query.where(Alert.id.not_in(tried))
        alert = session.scalar(query)
        if alert is None:
            session.rollback()
            return delivered
        tried.add(alert.id)
        if _attempt(session, alert, timeout, backoff_s):
            delivered.append(alert)
        session.commit()  # attempts and status on disk before the next alert is claimed


def _attempt(session: Session, alert: Alert, timeout: float, backoff_s: float) -> bool:
    event = session.get(Event, alert.event_id)
    site = session.get(SiteRecord, event.site_id)
    rules = site.alert_rules or {}
    body = json.dumps(payload(event, site), sort_keys=True).encode()
    attempts = 1 if alert.target.startswith("mailto:") else WEBHOOK_ATTEMPTS
    for attempt in range(attempts):
        if alert.target.startswith("mailto:"):
            subject = f"sitewatch: {event.kind} at {site.name} ({event.area_m2:,.0f} m²)"
            ok, detail = _mail(alert.target[len("mailto:") :], body, rules, subject)
        else:
            ok, detail = _post(alert.target, body, rules.get("secret"), timeout, alert.id)
        session.add(Delivery(alert_id=alert.id, ok=ok, detail=detail))
        if ok:
            alert.status, alert.delivered_at = "delivered", datetime.now(UTC)
            return True
        if attempt + 1 < attempts:
            time.sleep(backoff_s * 2**attempt)
    return False
