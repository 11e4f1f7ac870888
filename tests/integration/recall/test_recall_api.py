"""POST /api/v1/recalls as an ERP calls it: the Idempotency-Key replays the same request and
refuses another body under it, the client reads back the recall it started, and a lot or serial
already under an open recall is not recalled a second time."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from engine import audit
from engine.db import db
from engine.identity import service as identity
from engine.ledger.models import StockBalance
from engine.recall.models import Recall
from tests.integration.ledger.world import build_world
from tests.integration.recall.test_recall_engine import _shipped_world

BODY = {"product": "06901234000023", "lots": ["L1"], "level": "II",
        "reason": "Display shows wrong unit", "source": "Manufacturer notice MN-9"}
REUSED = "was used before with a different request body"


@pytest.fixture
def token(app: Flask, make_user: Any) -> str:
    """The ERP's token, in a world where lot L1 was shipped to two customers."""
    with app.app_context():
        world = build_world(make_user)
        _shipped_world(world)
        world.receive_available("S1", location=world.cold, product=world.implant,
                                serials=("SN-1", "SN-2", "SN-3"))
        make_user("erp", "api_client", full_name="ERP link")
        plain = identity.create_token(audit.SYSTEM, identity.find_user("erp"), "ERP")
        db.session.commit()
    return plain


def _post(client: FlaskClient, token: str, body: Any, key: str | None = None,
          **headers: str) -> Any:
    sent = {"Authorization": f"Bearer {token}", **headers}
    if key is not None:
        sent["Idempotency-Key"] = key
    return client.post("/api/v1/recalls", json=body, headers=sent)


def _recalls(app: Flask) -> list[tuple[str, str, str, str]]:
    with app.app_context():
        return [(r.number, r.lots, r.serials, r.reason)
                for r in db.session.scalars(select(Recall).order_by(Recall.id))]


def _held(app: Flask, lot_no: str) -> int:
    from engine.ledger.models import Lot

    with app.app_context():
        return int(db.session.scalar(
            select(func.coalesce(func.sum(StockBalance.quantity), 0))
            .join(Lot, Lot.id == StockBalance.lot_id)
            .where(Lot.lot_no == lot_no, StockBalance.status == "recalled")) or 0)


def test_a_key_replays_its_request_and_refuses_another_body(
        app: Flask, client: FlaskClient, token: str) -> None:
    first = _post(client, token, BODY, key="MN-9-ERP-1")
    assert first.status_code == 201, first.get_json()
    number = first.get_json()["number"]
    assert first.headers["Location"] == f"/api/v1/recalls/{number}"
    assert "Idempotent-Replayed" not in first.headers

    # The same key and body (keys in another order, the key also in the body) replays.
    same = dict(reversed(list(BODY.items())), idempotency_key="MN-9-ERP-1")
    again = _post(client, token, same, key="MN-9-ERP-1")
    assert again.status_code == 200 and again.get_json()["number"] == number
    assert again.headers["Idempotent-Replayed"] == "true"

    # Another body under the same key is refused, naming the header; nothing else starts.
    for changed in ({"reason": "Battery overheats"}, {"lots": ["L1", "L2"]}, {"level": "I"}):
        refused = _post(client, token, BODY | changed, key="MN-9-ERP-1")
        assert refused.status_code == 422
        error = refused.get_json()["error"]
        assert error["code"] == "idempotency_key_reused"
        assert error["fields"] == {"Idempotency-Key": REUSED}
    # ... naming the body's field when the key came in the body.
    refused = _post(client, token, BODY | {"reason": "Battery overheats",
                                           "idempotency_key": "MN-9-ERP-1"})
    assert refused.status_code == 422
    assert refused.get_json()["error"]["fields"] == {"idempotency_key": REUSED}

    assert _recalls(app) == [(number, '["L1"]', "[]", "Display shows wrong unit")]
    assert _held(app, "L2") == 0
    with app.app_context():
        assert audit.verify().ok


def test_the_idempotency_key_header_is_checked(
        app: Flask, client: FlaskClient, token: str) -> None:
    for bad in ("", "k" * 201, "clé", "tab\there"):
        refused = _post(client, token, BODY, key=bad)
        assert refused.status_code == 422, bad
        assert list(refused.get_json()["error"]["fields"]) == ["Idempotency-Key"], bad
    missing = _post(client, token, BODY)
    assert missing.status_code == 422
    assert "Idempotency-Key" in missing.get_json()["error"]["fields"]
    differ = _post(client, token, BODY | {"idempotency_key": "another-key"}, key="one-key")
    assert differ.status_code == 422
    assert "Idempotency-Key" in differ.get_json()["error"]["fields"]
    assert _recalls(app) == []

    longest = _post(client, token, BODY, key="k" * 200)
    assert longest.status_code == 201
    assert _post(client, token, BODY, key="k" * 200).status_code == 200
    shortest = _post(client, token, BODY | {"lots": ["L2"]}, key="x")
    assert shortest.status_code == 201


def test_the_api_client_reads_the_recall_it_started(
        app: Flask, client: FlaskClient, token: str, make_user: Any) -> None:
    make_user("portal", "api_client", full_name="Manufacturer portal")
    started = _post(client, token, BODY, key="MN-9-ERP-2").get_json()
    auth = {"Authorization": f"Bearer {token}"}
    read = client.get(f"/api/v1/recalls/{started['number']}", headers=auth)
    assert read.status_code == 200
    recall = read.get_json()
    assert recall["number"] == started["number"] and recall["status"] == "open"
    assert recall["lots"] == ["L1"] and recall["held_units"] == 16 and recall["customers"] == 2
    assert client.get("/api/v1/recalls/RC-1999-00001", headers=auth).status_code == 404
    # Another client's recall is not found: a client reads the recalls it started only.
    with app.app_context():
        other = identity.create_token(audit.SYSTEM, identity.find_user("portal"), "Portal")
        db.session.commit()
    hidden = client.get(f"/api/v1/recalls/{started['number']}",
                        headers={"Authorization": f"Bearer {other}"})
    assert hidden.status_code == 404
    from engine.identity.roles import API_CLIENT, PERMISSIONS

    assert {action for action, allowed in PERMISSIONS.items() if API_CLIENT in allowed} == {
        "instances.start", "recalls.start"}


def test_a_lot_or_serial_under_an_open_recall_is_not_recalled_again(
        app: Flask, client: FlaskClient, token: str) -> None:
    first = _post(client, token, BODY, key="MN-9-ERP-3").get_json()["number"]

    second = _post(client, token, BODY | {"level": "I"}, key="MN-10-ERP-1")
    assert second.status_code == 409
    error = second.get_json()["error"]
    assert error["code"] == "already_recalled" and first in error["message"]
    assert error["fields"] == {"lots": f"Under open recall: lot L1 (recall {first})"}
    # One lot of the request under recall refuses the whole request: L2 stays sellable.
    both = _post(client, token, BODY | {"lots": ["L2", "L1"]}, key="MN-10-ERP-2")
    assert both.status_code == 409 and "lot L1" in both.get_json()["error"]["message"]
    assert "L2" not in both.get_json()["error"]["message"]
    assert _held(app, "L2") == 0

    implant = {"product": "HA-GEL", "level": "III", "reason": "Label misprint",
               "source": "Manufacturer notice MN-11"}
    serial = _post(client, token, implant | {"serials": ["SN-2"]}, key="MN-11-ERP-1")
    assert serial.status_code == 201
    serial_number = serial.get_json()["number"]
    again = _post(client, token, implant | {"serials": ["SN-2"]}, key="MN-11-ERP-2")
    assert again.status_code == 409
    assert again.get_json()["error"]["fields"] == {
        "serials": f"Under open recall: serial SN-2 of lot S1 (recall {serial_number})"}
    # Widening a serial recall to its whole lot is a new recall; then every serial of the
    # lot is taken.
    whole = _post(client, token, implant | {"lots": ["S1"]}, key="MN-11-ERP-3")
    assert whole.status_code == 201
    other = _post(client, token, implant | {"serials": ["SN-3"]}, key="MN-11-ERP-4")
    assert other.status_code == 409
    assert whole.get_json()["number"] in other.get_json()["error"]["message"]
    assert len(_recalls(app)) == 3

    # Once the first recall is closed, the lot can be recalled again.
    with app.app_context():
        recall = db.session.scalar(select(Recall).where(Recall.number == first))
        assert recall is not None
        recall.status = "closed"
        db.session.commit()
    assert _post(client, token, BODY | {"level": "I"}, key="MN-10-ERP-3").status_code == 201


def test_the_recall_page_refuses_a_second_recall_of_a_lot(
        app: Flask, client: FlaskClient, token: str) -> None:
    from tests.support.web import login, submit

    first = _post(client, token, BODY, key="MN-9-ERP-4").get_json()["number"]
    login(client, "qm")
    page = submit(client, "/recalls/new", {"product": "THERMO", "lots": "L1", "level": "I",
                                           "reason": "Wrong calibration",
                                           "source": "Manufacturer notice MN-7",
                                           "confirm": "y"})
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert f"Already under an open recall: lot L1 (recall {first})" in text
    assert f"Under open recall: lot L1 (recall {first})" in text  # next to the lots field
    assert len(_recalls(app)) == 1

