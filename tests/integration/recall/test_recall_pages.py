"""The recall pages as a quality manager uses them: start (with confirmation), follow each
customer, record acknowledgements, close with a signature, read the report and its PDF."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
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
    from web import pdf as pdfs

    if any(Path(path).is_file() for path in pdfs.FONT_FILES):  # the test set-up installs one
        # The Chinese glyphs used travel in the file: any reader shows them.
        assert b"/FontFile2" in pdf.data and b"STSong" not in pdf.data
    listing = client.get("/recalls/?q=" + recall.number).get_data(as_text=True)
    assert recall.number in listing
    with app.app_context():
        assert audit.verify().ok


def test_a_clerk_cannot_start_or_close(client: FlaskClient, make_user: Any) -> None:
    make_user("clerk", "receiving_clerk")
    login(client, "clerk")
    assert client.get("/recalls/new").status_code == 403
    assert client.get("/recalls/").status_code == 200


@pytest.mark.parametrize(("pack_id", "site_code"), [("nmpa", "SH"), ("fda", "CHI"),
                                                    ("mdr", "RTM")])
def test_each_regions_pack_lets_the_quality_manager_close_a_complete_recall(
        app: Flask, client: FlaskClient, make_user: Any, stack: Any, request: Any,
        pack_id: str, site_code: str) -> None:
    from datetime import date, timedelta

    from engine.identity.models import User
    from engine.ledger import service as ledger
    from engine.masterdata import service as md
    from engine.rules import store

    with app.app_context():
        world = build_world(make_user)
        _shipped_world(world)
        if site_code == "RTM":  # the lot is stocked in the EU too
            site = md.create_site(audit.SYSTEM, "RTM", "Rotterdam", "EU", "Europe/Amsterdam")
            ledger.receive(world.clerk, md.create_location(audit.SYSTEM, site, "Q-01",
                                                           "quarantine"),
                           world.thermometer, "L1", 2, supplier=world.supplier,
                           document="GR-RTM-1", expiry=date.today() + timedelta(days=400))
        store.activate_for_demo(store.import_folder(audit.SYSTEM, pack_id).version, site_code)
        db.session.commit()
    if stack.backend == "production":
        request.getfixturevalue("worker")
    login(client, "qm")
    assert submit(client, "/recalls/new", dict(START, confirm="y")).status_code == 302
    recall = _recall(app)
    assert recall is not None
    url = f"/recalls/{recall.id}"
    deadline = time.monotonic() + 60
    while not _consignees(app, recall.id)["CUS-1"][1]:
        assert time.monotonic() < deadline, "the hospital's notice was not delivered"
        time.sleep(0.2)
    close = {"note": "Recovered units scrapped", "username": "qm", "password": PASSWORD}

    # The clinic (no channel) is not notified yet: NMPA and FDA refuse to close; the refusal
    # is kept in the audit trail, the recall stays open.
    early = submit(client, f"{url}/close", close, form_url=url, follow_redirects=True)
    with app.app_context():
        blocked = db.session.scalars(db.select(audit.AuditEvent).where(
            audit.AuditEvent.action == "gate.block",
            audit.AuditEvent.entity_type == "recall")).all()
    if pack_id == "mdr":
        assert "closed and signed" in early.get_data(as_text=True) and not blocked
        assert _recall(app).status == "closed"  # type: ignore[union-attr]
        return
    assert "closed and signed" not in early.get_data(as_text=True)
    assert "notif" in early.get_data(as_text=True).lower()
    assert len(blocked) == 1 and pack_id in blocked[0].after
    assert _recall(app).status == "open"  # type: ignore[union-attr]

    # A wrong password counts towards the lock-out even though nothing is closed.
    clinic_id = _consignees(app, recall.id)["CUS-2"][0]
    submit(client, f"{url}/consignees/{clinic_id}/acknowledge", {"note": "Phoned Dr Adams"},
           form_url=url)
    submit(client, f"{url}/close", dict(close, password="wrong"), form_url=url)
    with app.app_context():
        qm = db.session.scalar(db.select(User).where(User.username == "qm"))
        assert qm is not None and qm.failed_attempts == 1
    closed = submit(client, f"{url}/close", close, form_url=url, follow_redirects=True)
    assert "closed and signed" in closed.get_data(as_text=True)
    assert _recall(app).status == "closed"  # type: ignore[union-attr]
    with app.app_context():
        assert audit.verify().ok
