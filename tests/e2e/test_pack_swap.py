"""Swapping the active rule pack while `gxpflow serve` answers requests: the server's next
decision uses the new pack (no restart), and the swap is in the audit trail with its signer."""

from __future__ import annotations

import json
import urllib.request
from typing import Any

from flask import Flask
from sqlalchemy import select

from engine import audit
from engine.audit import AuditEvent
from engine.db import db
from engine.identity import roles
from engine.identity import service as identity
from engine.ledger import service as ledger
from engine.rules import store
from tests.integration.ledger.world import build_world, place
from tests.support.factories import PASSWORD


def _recall(url: str, token: str, lot: str, key: str) -> dict[str, Any]:
    body = {"product": "THERMO", "lots": [lot], "level": "I", "reason": "Calibration drift",
            "source": "Manufacturer notice MN-1"}
    request = urllib.request.Request(url + "/api/v1/recalls", data=json.dumps(body).encode(),
                                     method="POST", headers={
                                         "Authorization": f"Bearer {token}",
                                         "Content-Type": "application/json",
                                         "Idempotency-Key": key})
    with urllib.request.urlopen(request, timeout=30) as response:
        answer: dict[str, Any] = json.loads(response.read())
        return answer


def test_activating_a_pack_changes_the_servers_next_decision(
        app: Flask, make_user: Any, live_server: str) -> None:
    with app.app_context():
        world = build_world(make_user)
        for lot_no in ("L1", "L2"):
            lot = world.receive_available(lot_no, 10)
            ledger.ship(world.operator, lot, 2, source=place(world.stock),
                        customer=world.hospital, document=f"SO-{lot_no}")
        make_user("erp", roles.API_CLIENT)
        make_user("officer", roles.COMPLIANCE_OFFICER, full_name="Zhao Min")
        token = identity.create_token(audit.SYSTEM, identity.find_user("erp"), "ERP")
        nmpa = store.import_folder(audit.SYSTEM, "nmpa").version
        db.session.commit()

    before = _recall(live_server, token, "L1", "swap-key-0001")
    assert before["deadline_hours"] is None, "no pack active at SH yet: no deadline"

    with app.app_context():
        officer = identity.find_user("officer")
        store.activate(officer, db.session.merge(nmpa), "SH", password=PASSWORD,
                       username="officer", first_in_session=True, reason="go live")
        db.session.commit()
        event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "rules.activate"))
        assert event is not None and event.actor_name == "Zhao Min"
        assert '"site":"SH"' in event.after.replace(" ", "")

    after = _recall(live_server, token, "L2", "swap-key-0002")
    assert after["deadline_hours"] == 24, "the running server used the newly active pack"
