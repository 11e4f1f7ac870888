"""The recall pages as a quality manager uses them: start (with confirmation), follow each
customer, record acknowledgements, close with a signature, read the report and its PDF."""

from __future__ import annotations

import time
from typing import Any

from flask import Flask
from flask.testing import FlaskClient

from engine import audit
from engine.db import db
from engine.recall.models import Recall
from tests.integration.ledger.world import build_world
from tests.integration.recall.test_recall_engine import _shipped_world
from tests.support.factories import PASSWORD
from tests.support.web import login, submit

START = {"product": "06901234000023", "lots": "L1", "level": "I", "reason": "Wrong calibration",
         "source": "Manufacturer notice MN-7"}


def _recall(app: Flask) -> Recall | None:
    with app.app_context():
        recall = db.session.scalar(db.select(Recall))
        if recall is not None:
            db.session.expunge(recall)
        return recall


def _consignees(app: Flask, recall_id: int) -> dict[str, tuple[int, bool]]:
    with app.app_context():
        return {row.party.code: (row.id, row.notified_at is not None)
                for row in db.session.get_one(Recall, recall_id).consignees}


def test_start_follow_and_close_a_recall(app: Flask, client: FlaskClient, make_user: Any,
                                         stack: Any, request: Any) -> None:
    with app.app_context():
        _shipped_world(build_world(make_user))
    if stack.backend == "production":
        request.getfixturevalue("worker")
    login(client, "qm")
    refused = submit(client, "/recalls/new", START)
    assert refused.status_code == 200 and "I understand" in refused.get_data(as_text=True)
    assert _recall(app) is None, "nothing starts without confirmation"

    unknown = submit(client, "/recalls/new", dict(START, lots="NOPE", confirm="y"))
    assert "Unknown lot(s): NOPE" in unknown.get_data(as_text=True)

    started = submit(client, "/recalls/new", dict(START, confirm="y"))
    assert started.status_code == 302
    recall = _recall(app)
    assert recall is not None
    deadline = time.monotonic() + 60
    while not _consignees(app, recall.id)["CUS-1"][1]:
        assert time.monotonic() < deadline, "the hospital's notice was not delivered"
        time.sleep(0.2)
    page = client.get(started.headers["Location"]).get_data(as_text=True)
    assert recall.number in page and "上海仁康医院" in page and "Lakeshore Clinic" in page
    assert "no channel" in page

    clinic_id = _consignees(app, recall.id)["CUS-2"][0]
    acked = submit(client, f"/recalls/{recall.id}/consignees/{clinic_id}/acknowledge",
                   {"note": "Phoned Dr Adams"}, form_url=f"/recalls/{recall.id}")
    assert acked.status_code == 302
    wrong = submit(client, f"/recalls/{recall.id}/close",
                   {"note": "Done", "username": "qm", "password": "wrong"},
                   form_url=f"/recalls/{recall.id}", follow_redirects=True)
    assert "password" in wrong.get_data(as_text=True).lower()
    assert _recall(app).status == "open"  # type: ignore[union-attr]

    closed = submit(client, f"/recalls/{recall.id}/close",
                    {"note": "Recovered units scrapped", "username": "qm", "password": PASSWORD},
                    form_url=f"/recalls/{recall.id}", follow_redirects=True)
    body = closed.get_data(as_text=True)
    assert "closed and signed" in body and "Liu Yang" in body and "Responsible" in body

    report = client.get(f"/recalls/{recall.id}/report").get_data(as_text=True)
    assert "Recall report" in report and "Timeline" in report
    pdf = client.get(f"/recalls/{recall.id}/report.pdf")
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf"
    assert pdf.data.startswith(b"%PDF")
    listing = client.get("/recalls/?q=" + recall.number).get_data(as_text=True)
    assert recall.number in listing
    with app.app_context():
        assert audit.verify().ok


def test_a_clerk_cannot_start_or_close(client: FlaskClient, make_user: Any) -> None:
    make_user("clerk", "receiving_clerk")
    login(client, "clerk")
    assert client.get("/recalls/new").status_code == 403
    assert client.get("/recalls/").status_code == 200
