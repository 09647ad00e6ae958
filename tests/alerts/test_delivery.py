"""Alerts through a real HTTP receiver on 127.0.0.1 (and a real SMTP server), on both databases."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from sqlalchemy import func, select

from sitewatch.alerts import SIGNATURE_HEADER, deliver_pending
from sitewatch.store import open_store
from sitewatch.store.models import Alert, Delivery, SiteRecord
from sitewatch.store.repo import add_site, record_run
from tests.servers.harness import free_port
from tests.store.test_repo import SITE, detected

SECRET = "hush"


class Receiver:
    """An HTTP server that fails the first `failures` POSTs with 503, then accepts."""

    def __init__(self, failures: int = 0) -> None:
        self.failures = failures
        self.redirect_to: str | None = None
        self.delay = 0.0
        self.received: list[tuple[dict, bytes, str | None]] = []
        self.attempts = 0
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.attempts += 1
                if receiver.delay:
                    time.sleep(receiver.delay)
                if receiver.redirect_to:
                    self.send_response(307)
                    self.send_header("Location", receiver.redirect_to)
                elif receiver.attempts <= receiver.failures:
                    self.send_response(503)
                else:
                    receiver.received.append((json.loads(body), body, self.headers.get(SIGNATURE_HEADER)))
                    self.send_response(200)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()


@pytest.fixture
def receiver():
    r = Receiver(failures=2)
    yield r
    r.close()


@pytest.fixture(autouse=True)
def _secret(monkeypatch):
    monkeypatch.setenv("SITEWATCH_TEST_HOOK_SECRET", SECRET)


@pytest.fixture
def session(store_url, receiver):
    store = open_store(store_url)
    with store.session() as s:
        add_site(s, SITE)
        record = s.get(SiteRecord, SITE.id)
        record.alert_rules = {
            "min_area_m2": 1000,
            "kinds": ["built_up_gain"],
            "persistence": 2,
            "webhooks": [receiver.url],
            "secret_ref": "env:SITEWATCH_TEST_HOOK_SECRET",
            "allow_http": True,  # the test receiver is plain http on 127.0.0.1
            "allow_private": True,
        }
        s.commit()
        yield s


def _run(session, inputs, events):
    return record_run(session, SITE.id, {"scenes": inputs}, {}, events, datetime.now(UTC))


def test_failing_receiver_gets_the_alert_exactly_once_signed(session, receiver):
    small = detected(13.80, area=500)  # below min_area: no alert
    other_kind = detected(13.81, kind="vegetation_loss")
    _run(session, ["a"], [detected(13.79), small, other_kind])
    assert session.scalar(select(func.count()).select_from(Alert)) == 1
    report = deliver_pending(session, backoff_s=0.01)
    assert len(report.delivered) == 1 and len(receiver.received) == 1 and receiver.attempts == 3
    doc, body, signature = receiver.received[0]
    assert doc["event"]["kind"] == "built_up_gain" and doc["site"]["id"] == SITE.id
    assert signature == "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    attempts = [d.ok for d in session.scalars(select(Delivery).order_by(Delivery.id))]
    assert attempts == [False, False, True]  # every attempt recorded
    assert deliver_pending(session).delivered == [] and len(receiver.received) == 1  # nothing sent twice


def test_identical_runs_alert_once(session, receiver):
    _run(session, ["a"], [detected(13.79)])
    deliver_pending(session, backoff_s=0.01)
    again = _run(session, ["a"], [detected(13.79)])
    assert again.duplicate
    deliver_pending(session, backoff_s=0.01)
    assert len(receiver.received) == 1


def test_undelivered_alert_waits_for_the_next_run(session, receiver):
    receiver.failures = 5  # down for this whole run
    _run(session, ["a"], [detected(13.79)])
    report = deliver_pending(session, backoff_s=0.01)
    assert report.delivered == [] and len(report.failed) == 1
    assert session.scalar(select(Alert.status)) == "pending"
    receiver.failures = 0
    receiver.attempts = 0
    assert len(deliver_pending(session, backoff_s=0.01).delivered) == 1  # the next run delivers it
    assert len(receiver.received) == 1


def test_email_alert_through_smtp(session, tmp_path):
    smtpd = pytest.importorskip("aiosmtpd.controller")
    messages = []

    class Handler:
        async def handle_DATA(self, server, session_, envelope):
            messages.append(envelope.content.decode())
            return "250 OK"

    port = free_port()
    controller = smtpd.Controller(Handler(), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        record = session.get(SiteRecord, SITE.id)
        record.alert_rules = {
            "emails": ["analyst@example.org"],
            "smtp": f"127.0.0.1:{controller.server.sockets[0].getsockname()[1]}",
        }
        session.commit()
        _run(session, ["mail"], [detected(13.79)])
        assert len(deliver_pending(session).delivered) == 1
        assert "built_up_gain" in messages[0] and "analyst@example.org" in messages[0]
    finally:
        controller.stop()


def _rules(session, **rules):
    record = session.get(SiteRecord, SITE.id)
    record.alert_rules = {"webhooks": [], **rules}
    session.commit()


def _details(session) -> list[str]:
    return [d.detail for d in session.scalars(select(Delivery).order_by(Delivery.id))]


def test_a_webhook_to_a_private_address_is_refused_unless_allowed(session, receiver):
    _rules(session, webhooks=[receiver.url], secret_ref="env:SITEWATCH_TEST_HOOK_SECRET", allow_http=True)
    _run(session, ["ssrf"], [detected(13.79)])
    report = deliver_pending(session, backoff_s=0.01)
    assert report.delivered == [] and receiver.attempts == 0  # nothing was sent
    assert "loopback, private" in _details(session)[-1]


def test_a_redirect_is_not_followed(session, receiver):
    """A 307 to another place would carry the body and its signature there."""
    target = Receiver()
    receiver.redirect_to = target.url
    try:
        _run(session, ["redirect"], [detected(13.79)])
        report = deliver_pending(session, backoff_s=0.01)
        assert report.delivered == [] and target.attempts == 0
        assert "redirect not followed" in _details(session)[-1]
    finally:
        target.close()


def test_a_missing_secret_fails_the_delivery_and_says_so(session, receiver, monkeypatch):
    monkeypatch.delenv("SITEWATCH_TEST_HOOK_SECRET")
    _run(session, ["nosecret"], [detected(13.79)])
    report = deliver_pending(session, backoff_s=0.01)
    assert report.delivered == [] and receiver.attempts == 0
    assert "SITEWATCH_TEST_HOOK_SECRET is not set" in _details(session)[-1]


def test_a_silent_receiver_cannot_hold_the_run_or_the_store(session, receiver, store_url):
    """Each try is bounded, the phase has a budget, and the store stays writable meanwhile."""
    receiver.delay = 5.0
    _run(session, ["slow1"], [detected(13.79)])
    _run(session, ["slow2"], [detected(13.70)])
    started = time.monotonic()
    report = deliver_pending(session, timeout=0.5, backoff_s=0.01, budget_s=1.0)
    assert time.monotonic() - started < 4.0
    assert report.delivered == [] and report.failed and report.left >= 0
    assert session.scalar(select(func.count()).select_from(Alert).where(Alert.status == "pending")) == 2
    with open_store(store_url).session() as other:  # another writer is not locked out
        other.add(Delivery(alert_id=report.failed[0], ok=False, detail="probe"))
        other.commit()
