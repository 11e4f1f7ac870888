"""A customer's recall webhook leads to the customer's public server, never inside the
distributor's network: an internal address is refused when the party is saved (naming the field)
and checked again when a notice is sent, since the name may resolve elsewhere by then."""

from __future__ import annotations

import re
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from engine import audit
from engine.db import db
from engine.errors import InvalidInput
from engine.masterdata import service as md
from engine.masterdata.models import Party
from engine.recall import service as recalls
from engine.recall.models import RecallConsignee, RecallDelivery
from tests.integration.ledger.world import World, build_world
from tests.integration.recall.test_recall_engine import _shipped_world
from tests.support.dns import Resolver, record_connections
from tests.support.web import login, submit

INTERNAL = [
    ("http://10.0.0.5/hook", "10.0.0.5 is on an internal network"),
    ("http://169.254.169.254/latest/meta-data/", "169.254.169.254 is a link-local address"),
    ("http://[::1]:8080/recall", "::1 is this server itself"),
]


@pytest.mark.parametrize(("url", "reason"), INTERNAL)
def test_a_party_with_an_internal_webhook_is_not_saved(world: World, url: str,
                                                        reason: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        md.create_party(audit.SYSTEM, "CUS-9", "Internal Hook Ltd", kinds={"customer"},
                        notify_webhook=url)
    assert refused.value.message == "The party could not be created."
    assert list(refused.value.fields) == ["notify_webhook"]
    assert refused.value.fields["notify_webhook"].startswith(f"The webhook address {reason}")
    db.session.rollback()
    assert db.session.scalar(select(Party).where(Party.code == "CUS-9")) is None

    with pytest.raises(InvalidInput) as refused:
        md.update_party(audit.SYSTEM, world.hospital, "Customer's new webhook",
                        notify_webhook=url)
    assert list(refused.value.fields) == ["notify_webhook"]
    db.session.rollback()
    assert md.get_party("CUS-1").notify_webhook == ""


def test_a_webhook_host_that_cannot_be_found_is_not_saved(
        world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    Resolver(monkeypatch)  # no DNS answer
    with pytest.raises(InvalidInput) as refused:
        md.update_party(audit.SYSTEM, world.hospital, "Customer's new webhook",
                        notify_webhook="https://hooks.renkang.example/recall")
    assert refused.value.fields["notify_webhook"].startswith(
        "The webhook server hooks.renkang.example cannot be found")
    db.session.rollback()
    assert md.get_party("CUS-1").notify_webhook == ""


def test_the_party_page_names_the_refused_webhook_at_its_field(
        app: Flask, client: FlaskClient, make_user: Any) -> None:
    with app.app_context():
        hospital_id = build_world(make_user).hospital.id
    login(client, "qm")
    url = f"/masterdata/parties/{hospital_id}/edit"
    response = submit(client, url, {
        "name": "上海仁康医院", "is_customer": "y", "reason": "Customer's new webhook",
        "notify_webhook": "http://169.254.169.254/latest/meta-data/"})
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    shown = re.search(r'data-field="notify_webhook">([^<]*)<', page)
    assert shown and shown.group(1).startswith(
        "The webhook address 169.254.169.254 is a link-local address (such as the cloud "
        "metadata service); recall notices and tracking reports go only to the partner&#39;s "
        "public server")
    with app.app_context():
        assert db.session.get_one(Party, hospital_id).notify_webhook == ""


def test_a_webhook_that_now_resolves_inside_is_not_posted_and_the_failure_says_why(
        world: World, stack: Any, delivered: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    if stack.backend == "production":
        pytest.skip("the DNS answer is set in this process; a real worker resolves for itself")
    resolver = Resolver(monkeypatch, "93.184.216.34")
    _shipped_world(world)
    md.update_party(audit.SYSTEM, world.hospital, "Customer's webhook for recall notices",
                    notify_email="", notify_webhook="https://hooks.renkang.example/recall")
    db.session.commit()
    # Later the customer's name answers with the cloud metadata service (DNS rebinding).
    resolver.addresses = ["169.254.169.254"]
    opened = record_connections(monkeypatch)

    recall, _ = recalls.start(world.qm, product=world.thermometer, lots=["L1"], level="I",
                              reason="Wrong calibration", source="Manufacturer notice MN-7")
    db.session.commit()
    hospital = db.session.scalar(select(RecallConsignee).where(
        RecallConsignee.recall_id == recall.id, RecallConsignee.party_id == world.hospital.id))
    assert hospital is not None
    delivered(lambda: db.session.scalar(select(RecallDelivery.id).where(
        RecallDelivery.consignee_id == hospital.id)) is not None)

    deliveries = db.session.scalars(select(RecallDelivery).where(
        RecallDelivery.consignee_id == hospital.id)).all()
    assert [(d.channel, d.status, d.attempt) for d in deliveries] == [("webhook", "failed", 1)]
    assert deliveries[0].detail.startswith(
        "The webhook address hooks.renkang.example (169.254.169.254) is a link-local address")
    assert opened == [], "no request was made"
    assert hospital.notified_at is None
    assert audit.verify().ok
