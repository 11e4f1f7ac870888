"""The recall API over real HTTP against `gxpflow serve`: a bad body is refused naming the field,
the same Idempotency-Key starts one recall, held stock cannot be picked, and a customer's
webhook receives the notice signed with HMAC-SHA256."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from typing import Any

import pytest
from flask import Flask

from engine import audit
from engine.db import db
from engine.errors import InvalidInput
from engine.identity import service as identity
from engine.ledger import service as ledger
from engine.recall.models import Recall, RecallConsignee
from tests.integration.ledger.world import build_world, place
from tests.support.httpsink import serving


class Sink(BaseHTTPRequestHandler):
    received: list[tuple[dict[str, str], bytes]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        Sink.received.append(({k.lower(): v for k, v in self.headers.items()}, body))
        self.send_response(202)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def sink() -> Iterator[str]:
    Sink.received = []
    with serving(Sink) as base:
        yield f"{base}/recall-hook"


def _call(url: str, token: str, body: Any, key: str | None = None) -> tuple[int, dict[str, Any],
                                                                           dict[str, str]]:
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    if key:
        headers["Idempotency-Key"] = key
    request = urllib.request.Request(url + "/api/v1/recalls", method="POST", headers=headers,
                                     data=json.dumps(body).encode())
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read()), dict(response.headers)
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read()), dict(error.headers)


def test_recall_api_over_http(app: Flask, make_user: Any, live_server: str, sink: str,
                              stack: Any, request: Any) -> None:
    if stack.backend == "production":
        request.getfixturevalue("worker")
    with app.app_context():
        world = build_world(make_user)
        lot = world.receive_available("L1", 10)
        ledger.ship(world.operator, lot, 4, source=place(world.stock), customer=world.hospital,
                    document="SO-1")
        world.hospital.notify_webhook = sink
        make_user("erp", "api_client")
        token = identity.create_token(audit.SYSTEM, identity.find_user("erp"), "ERP")
        db.session.commit()
        secret = app.config["SECRET_KEY"]

    body = {"product": "06901234000023", "lots": ["L1"], "level": "二级",
            "reason": "Display shows wrong unit", "source": "Manufacturer notice MN-9"}
    status, error, _ = _call(live_server, token, {**body, "level": "IV"}, key="key-00000001")
    assert status == 422 and "level" in error["error"]["fields"]
    status, error, _ = _call(live_server, token, {**body, "lots": []}, key="key-00000001")
    assert status == 422 and "lots" in error["error"]["fields"]
    status, error, _ = _call(live_server, token, body)
    assert status == 422 and "Idempotency-Key" in error["error"]["fields"]
    status, error, _ = _call(live_server, "gxp_not-a-token", body, key="key-00000001")
    assert status == 401

    status, first, headers = _call(live_server, token, body, key="key-00000001")
    assert status == 201, first
    assert first["level"] == "II" and first["held_units"] == 6 and first["customers"] == 1
    status, again, headers = _call(live_server, token, body, key="key-00000001")
    assert status == 200 and again["number"] == first["number"]
    assert headers.get("Idempotent-Replayed") == "true"

    with app.app_context():
        assert db.session.query(Recall).count() == 1
        world_site = world.shanghai
        product = world.thermometer
        with pytest.raises(InvalidInput):
            ledger.allocate_fefo(db.session.merge(product), 1, site=db.session.merge(world_site))

    deadline = time.monotonic() + 60
    while not Sink.received:
        assert time.monotonic() < deadline, "the webhook was not called"
        time.sleep(0.2)
    headers, raw = Sink.received[0]
    assert headers["x-gxpflow-signature"] == "sha256=" + hmac.new(
        secret.encode(), raw, hashlib.sha256).hexdigest()
    notice = json.loads(raw)
    assert notice["number"] == first["number"] and notice["lines"][0]["quantity"] == 4
    with app.app_context():
        deadline = time.monotonic() + 30
        while db.session.query(RecallConsignee).filter(
                RecallConsignee.notified_at.isnot(None)).count() != 1:
            assert time.monotonic() < deadline
            time.sleep(0.2)
            db.session.rollback()
        assert audit.verify().ok
