"""Alerts through a real HTTP receiver on 127.0.0.1 (and a real SMTP server), on both databases."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
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
        self.received: list[tuple[dict, bytes, str | None]] = []
        self.attempts = 0
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.attempts += 1
                if receiver.attempts <= receiver.failures:
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
            "secret": SECRET,
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
    delivered = deliver_pending(session, backoff_s=0.01)
    assert len(delivered) == 1 and len(receiver.received) == 1 and receiver.attempts == 3
    doc, body, signature = receiver.received[0]
    assert doc["event"]["kind"] == "built_up_gain" and doc["site"]["id"] == SITE.id
    assert signature == "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    attempts = [d.ok for d in session.scalars(select(Delivery).order_by(Delivery.id))]
    assert attempts == [False, False, True]  # every attempt recorded
    assert deliver_pending(session) == [] and len(receiver.received) == 1  # nothing sent twice


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
    assert deliver_pending(session, backoff_s=0.01) == []
    assert session.scalar(select(Alert.status)) == "pending"
    receiver.failures = 0
    receiver.attempts = 0
    assert len(deliver_pending(session, backoff_s=0.01)) == 1  # the next run delivers it
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
        assert len(deliver_pending(session)) == 1
        assert "built_up_gain" in messages[0] and "analyst@example.org" in messages[0]
    finally:
        controller.stop()
