"""Receiving (收货验收) end to end, driven as staff drive it: start the process from its page,
open the task from the inbox, submit the form, sign when asked. One run per region with its
pack active; then the gate's effects inside the process (block, warning, signature, second
person, quarantine, deadline) and a bad GS1 scan."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from engine import audit
from engine.audit import AuditEvent
from engine.db import db
from engine.identity.models import Notification, Signature
from engine.ledger import gs1
from engine.ledger import service as ledger
from engine.ledger.models import StockBalance, StockMovement
from engine.masterdata import service as md
from engine.masterdata.models import Site
from engine.rules import store as packs
from engine.workflow import store
from engine.workflow.models import HumanTask, ProcessInstance
from tests.integration.processes.stockworld import workflow_data
from tests.support.factories import PASSWORD
from tests.support.web import login, started_instance, submit

ROOT = Path(__file__).resolve().parents[3]
CLI = audit.Actor(None, "cli")
SITES = {"SH": ("CN", "Asia/Shanghai", "nmpa"), "CHI": ("US", "America/Chicago", "fda"),
         "RTM": ("EU", "Europe/Amsterdam", "mdr")}
LOCATIONS = (("Q-01", "quarantine", None), ("Q-COLD", "quarantine", (2, 8)),
             ("A-01", "available", (10, 30)), ("A-COLD", "available", (2, 8)),
             ("NC-01", "nonconforming", None), ("NC-COLD", "nonconforming", (2, 8)),
             ("RET-01", "returns", None))
USERS = (("clerk", "receiving_clerk"), ("insp1", "inspector"), ("insp2", "inspector"),
         ("oper", "warehouse_operator"), ("qm", "quality_manager"))
TODAY = date.today()
EXPIRY = TODAY + timedelta(days=700)


def gtin(data: str) -> str:
    return data + str(gs1.gtin_check_digit(data))


GEL, THERMO, OLD = gtin("0690123400001"), gtin("0690123400002"), gtin("0690123400004")


def label(code: str, lot: str, serial: str = "", expiry: date = EXPIRY) -> str:
    scan = f"(01){code}(17){expiry:%y%m%d}(10){lot}"
    return scan + (f"(21){serial}" if serial else "")


def make_world(region_sites: tuple[str, ...]) -> None:
    for code in SITES:
        region, zone, _pack = SITES[code]
        site = md.create_site(audit.SYSTEM, code, f"{code} warehouse", region, zone)
        for loc, kind, band in LOCATIONS:
            md.create_location(audit.SYSTEM, site, loc, kind, loc, *(band or (None, None)))
    supplier = md.create_party(audit.SYSTEM, "SUP", "Supplier Co", kinds={"supplier"})
    md.add_licence(audit.SYSTEM, supplier, "operating_licence", "OL-1",
                   expires_on=TODAY + timedelta(days=800), scope_classes="I,II,III")
    lapsed = md.create_party(audit.SYSTEM, "LAPSED", "Lapsed Trading", kinds={"supplier"})
    md.add_licence(audit.SYSTEM, lapsed, "operating_licence", "OL-2",
                   expires_on=TODAY - timedelta(days=3), scope_classes="I,II,III")
    maker = md.create_party(audit.SYSTEM, "MFG", "Maker Ltd", kinds={"manufacturer"})
    md.add_licence(audit.SYSTEM, maker, "manufacturing_licence", "ML-1",
                   expires_on=TODAY + timedelta(days=900))
    customer = md.create_party(audit.SYSTEM, "CUS", "City Hospital", kinds={"customer"})
    md.add_licence(audit.SYSTEM, customer, "other", "H-1", expires_on=TODAY + timedelta(days=900),
                   scope_classes="I,II,III")
    common = {"manufacturer_id": maker.id, "registration_expiry": TODAY + timedelta(days=900)}
    md.create_product(audit.SYSTEM, "GEL", name_zh="凝胶", name_en="Gel", gtin=GEL,
                      registration_no="国械注准1", device_class="III", implantable=True,
                      cold_chain=True, storage_temp_min=2, storage_temp_max=8, serialised=True,
                      **common)
    md.create_product(audit.SYSTEM, "THERMO", name_zh="体温计", name_en="Thermometer",
                      gtin=THERMO, registration_no="粤械注准2", device_class="II",
                      storage_temp_min=-20, storage_temp_max=55, **common)
    md.create_product(audit.SYSTEM, "OLD", name_zh="旧产品", name_en="Old device", gtin=OLD,
                      registration_no="国械注准3", device_class="II",
                      manufacturer_id=maker.id, registration_expiry=TODAY - timedelta(days=10))
    store.deploy(CLI, (ROOT / "processes/bpmn/dual_review.bpmn").read_bytes(),
                 "dual_review.bpmn")
    store.deploy(CLI, (ROOT / "processes/bpmn/receiving.bpmn").read_bytes(), "receiving.bpmn")
    store.deploy(CLI, (ROOT / "processes/bpmn/release.bpmn").read_bytes(), "release.bpmn")
    for code in region_sites:
        imported = packs.import_folder(CLI, SITES[code][2])
        del imported
        row = packs.latest_version(SITES[code][2])
        assert row is not None
        assert packs.activate_for_demo(row, code) is not None
    db.session.commit()


@dataclass
class World:
    app: Flask
    clients: dict[str, FlaskClient]
    ids: dict[str, int]

    def client(self, username: str) -> FlaskClient:
        return self.clients[username]


@pytest.fixture
def world(app: Flask, make_user: Any, request: pytest.FixtureRequest) -> Iterator[World]:
    sites = (getattr(request, "param", "SH"),)
    users = {name: make_user(name, role) for name, role in USERS}
    with app.app_context():
        make_world(sites)
    clients = {}
    for name in users:
        clients[name] = app.test_client()
        login(clients[name], name)
    yield World(app, clients, {name: user.id for name, user in users.items()})


# -- driving the pages -------------------------------------------------------------------------


def start(world: World, site: str, subject: str) -> int:
    response = submit(world.client("clerk"), "/processes/receiving/start",
                      {"subject": subject, "site_code": site})
    assert response.status_code == 302, response.get_data(as_text=True)[:800]
    return started_instance(world.app, response)


def open_task(world: World, username: str, instance_id: int, step: str) -> int:
    """The task as its performer finds it: listed in the inbox, then opened."""
    with world.app.app_context():
        task_id = db.session.scalar(select(HumanTask.id).where(
            HumanTask.instance_id == instance_id, HumanTask.status == "open"))
        assert task_id is not None
        row = db.session.get(HumanTask, task_id)
        assert row is not None and row.step == step, (row and row.step, step)
    inbox = world.client(username).get("/inbox/?tab=unclaimed").get_data(as_text=True)
    assert f"/inbox/tasks/{task_id}" in inbox
    page = world.client(username).get(f"/inbox/tasks/{task_id}")
    assert page.status_code == 200
    return int(task_id)


def complete(world: World, username: str, task_id: int, data: dict[str, Any], *,
             expect: int = 302, sign: bool = True) -> Any:
    """Submit the task form; when the page asks for a signature, sign with it."""
    url = f"/inbox/tasks/{task_id}"
    response = submit(world.client(username), url, data)
    if response.status_code == 428 and sign:
        assert "must be signed" in response.get_data(as_text=True)
        response = submit(world.client(username), url,
                          {**data, "username": username, "password": PASSWORD})
    assert response.status_code == expect, response.get_data(as_text=True)[-3000:]
    return response


def step_task(world: World, username: str, instance_id: int, step: str,
              data: dict[str, Any], **kwargs: Any) -> int:
    task_id = open_task(world, username, instance_id, step)
    complete(world, username, task_id, data, **kwargs)
    return task_id


def arrival(product: str, scans: list[str], quantity: int, **extra: Any) -> dict[str, Any]:
    return {"purchase_order": "PO-2026-001", "supplier": "SUP", "product": product,
            "scans": "\r\n".join(scans), "quantity": str(quantity),
            "delivery_note_no": extra.pop("delivery_note_no", "DN-001"),
            "matches_purchase_order": "y", "matches_delivery_note": "y",
            "deliverer_name": "Zhang San", **extra}


COLD_OK = {"transport_mode": "refrigerated_truck", "dispatch_time": "2026-03-01T08:00+08:00",
           "arrival_time": "2026-03-01T15:30+08:00", "arrival_temperature_c": "5.2",
           "in_transit_record_present": "y", "in_transit_min_c": "3.1",
           "in_transit_max_c": "6.8", "in_transit_record_note": "logger-77.csv"}


def inspection(accepted: int, rejected: int, items: str = "") -> dict[str, Any]:
    conclusion = ("accepted" if not rejected else "rejected" if not accepted
                  else "partially_accepted")
    return {"conclusion": conclusion, "accepted_quantity": str(accepted),
            "rejected_quantity": str(rejected), "rejected_items": items,
            "defects": "seal broken" if rejected else "", "packaging_ok": "y",
            "labels_ok": "y", "certificate_checked": "y"}


# -- checks ------------------------------------------------------------------------------------


def stock(app: Flask, product: str, site: str) -> dict[tuple[str, str, str], int]:
    """(location, status, serial or lot) -> quantity, for one product at one site."""
    with app.app_context():
        rows = ledger.balances(product=md.get_product(product), site=md.get_site(site))
        return {(b.location.code, b.status, b.serial or b.lot.lot_no): b.quantity for b in rows}


def instance_status(app: Flask, instance_id: int) -> str:
    with app.app_context():
        found = db.session.get(ProcessInstance, instance_id)
        assert found is not None
        return found.status


def movements_of(app: Flask, instance_id: int) -> list[StockMovement]:
    with app.app_context():
        found = list(db.session.scalars(select(StockMovement).where(
            StockMovement.instance_id == str(instance_id)).order_by(StockMovement.id)))
        for movement in found:
            db.session.expunge(movement)
        return found


def signatures(app: Flask, instance_id: int) -> list[tuple[str, str]]:
    """(signer, meaning) of the signatures on the instance's tasks."""
    with app.app_context():
        task_ids = [str(i) for i in db.session.scalars(
            select(HumanTask.id).where(HumanTask.instance_id == instance_id))]
        rows = db.session.execute(
            select(Signature.printed_name, Signature.meaning)
            .where(Signature.entity_type == "human_task", Signature.entity_id.in_(task_ids))
            .order_by(Signature.id)).all()
        return [(name, meaning) for name, meaning in rows]


def decisions(app: Flask, instance_id: int, action: str = "rules.decision"
              ) -> list[dict[str, Any]]:
    with app.app_context():
        events = db.session.scalars(select(AuditEvent).where(
            AuditEvent.action == action, AuditEvent.entity_type == "process_instance",
            AuditEvent.entity_id == str(instance_id)).order_by(AuditEvent.seq))
        return [json.loads(e.after) for e in events]


def rule_ids(decision: dict[str, Any]) -> set[str]:
    return {verdict["rule_id"] for verdict in decision["verdicts"]}


def audit_ok(app: Flask) -> None:
    with app.app_context():
        assert audit.verify().ok


# -- one end-to-end run per region ---------------------------------------------------------------


@pytest.mark.parametrize("world", ["SH"], indirect=True)
def test_china_cold_chain_receipt_end_to_end(world: World) -> None:
    app = world.app
    serials = ["HA0001", "HA0002", "HA0003"]
    instance = start(world, "SH", "PO-2026-001 gel")
    scans = [label(GEL, "HA2603", s) for s in serials]
    step_task(world, "clerk", instance, "receiving.arrival", arrival("GEL", scans, 3, **COLD_OK))
    # NMPA GSP 60: goods match, so the receiver signs (the page asked for the signature).
    assert stock(app, "GEL", "SH") == {("Q-COLD", "quarantine", s): 1 for s in serials}

    step_task(world, "insp1", instance, "receiving.inspect", inspection(2, 1, "HA0003"))
    assert stock(app, "GEL", "SH") == {("Q-COLD", "quarantine", s): 1 for s in serials}

    # The pack demands a second person: the inspector cannot review their own inspection.
    review = open_task(world, "insp1", instance, "review.dual")
    page = complete(world, "insp1", review, {"review_decision": "confirmed"}, expect=422)
    assert "second person" in page.get_data(as_text=True)
    complete(world, "insp2", review, {"review_decision": "confirmed"})

    putaway = open_task(world, "oper", instance, "receiving.putaway")
    warm = complete(world, "oper", putaway,
                    {"accepted_location": "A-COLD", "rejected_location": "NC-01"}, expect=422)
    assert "rejected goods are stored as the product needs" in warm.get_data(as_text=True)
    complete(world, "oper", putaway,
             {"accepted_location": "A-COLD", "rejected_location": "NC-COLD"})
    assert instance_status(app, instance) == "completed"
    assert stock(app, "GEL", "SH") == {("A-COLD", "available", "HA0001"): 1,
                                       ("A-COLD", "available", "HA0002"): 1,
                                       ("NC-COLD", "nonconforming", "HA0003"): 1}
    moved = movements_of(app, instance)
    assert [m.kind for m in moved] == ["receive"] * 3 + ["status_change"] * 3
    assert all(m.task_id for m in moved)
    assert {m.document for m in moved} == {"DN-001"}
    assert signatures(app, instance) == [("Clerk", "verified"), ("Insp1", "performed"),
                                         ("Insp2", "reviewed")]
    audit_ok(app)


@pytest.mark.parametrize("world", ["CHI"], indirect=True)
def test_us_receipt_end_to_end_with_a_warning(world: World) -> None:
    app = world.app
    instance = start(world, "CHI", "PO-US-7 thermometers")
    scans = [label(THERMO, "T26A") + " x 12", label(THERMO, "T26A") + " x 8"]
    step_task(world, "clerk", instance, "receiving.arrival",
              arrival("THERMO", scans, 20, label_dates_not_iso="y"))
    assert stock(app, "THERMO", "CHI") == {("Q-01", "quarantine", "T26A"): 20}
    # 21 CFR 801.18: a label date not in YYYY-MM-DD is a warning: recorded, not a refusal.
    [decision] = decisions(app, instance)
    assert decision["step"] == "receiving.arrival"
    assert [v["rule_id"] for v in decision["verdicts"]] == ["fda-label-date-format"]
    assert decision["pack_versions"][0]["id"] == "fda"

    step_task(world, "insp1", instance, "receiving.inspect", inspection(20, 0))
    step_task(world, "insp2", instance, "review.dual", {"review_decision": "confirmed"})
    step_task(world, "oper", instance, "receiving.putaway", {})  # the site's default location
    assert instance_status(app, instance) == "completed"
    assert stock(app, "THERMO", "CHI") == {("A-01", "available", "T26A"): 20}
    history = workflow_data(app, instance)
    assert history["arrival_compliance"]["warnings"][0]["rule"] == "fda-label-date-format"
    assert signatures(app, instance) == [("Insp1", "performed"), ("Insp2", "reviewed")]
    audit_ok(app)


@pytest.mark.parametrize("world", ["CHI"], indirect=True)
def test_stock_in_a_receiving_is_not_released_before_its_inspection(world: World) -> None:
    app = world.app
    instance = start(world, "CHI", "PO-US-8 thermometers")
    step_task(world, "clerk", instance, "receiving.arrival",
              arrival("THERMO", [label(THERMO, "T26B") + " x 20"], 20))
    response = submit(world.client("qm"), "/processes/release/start",
                      {"subject": "QD T26B", "site_code": "CHI", "product": "THERMO",
                       "lot_no": "T26B", "from_status": "quarantine",
                       "held_reason": "Awaiting the quality decision"})
    assert response.status_code == 302, response.get_data(as_text=True)[-1500:]
    release = started_instance(app, response)
    decide = open_task(world, "qm", release, "release.decide")
    refused = complete(world, "qm", decide, {"disposition": "scrap",
                                              "decision_reason": "Not needed"}, expect=422)
    page = refused.get_data(as_text=True)
    assert f"still being received at CHI (receiving #{instance}" in page
    assert stock(app, "THERMO", "CHI") == {("Q-01", "quarantine", "T26B"): 20}
    assert movements_of(app, release) == [] and signatures(app, release) == []

    step_task(world, "insp1", instance, "receiving.inspect", inspection(20, 0))
    step_task(world, "insp2", instance, "review.dual", {"review_decision": "confirmed"})
    step_task(world, "oper", instance, "receiving.putaway", {})
    assert stock(app, "THERMO", "CHI") == {("A-01", "available", "T26B"): 20}, \
        "the putaway took every unit it received"
    audit_ok(app)


@pytest.mark.parametrize("world", ["RTM"], indirect=True)
def test_eu_receipt_end_to_end_with_partial_rejection(world: World) -> None:
    app = world.app
    instance = start(world, "RTM", "PO-EU-3 thermometers")
    scans = [label(THERMO, "T26B") + " x 10", label(THERMO, "T26C") + " x 5"]
    step_task(world, "clerk", instance, "receiving.arrival", arrival("THERMO", scans, 15))
    assert stock(app, "THERMO", "RTM") == {("Q-01", "quarantine", "T26B"): 10,
                                           ("Q-01", "quarantine", "T26C"): 5}
    step_task(world, "insp1", instance, "receiving.inspect",
              inspection(12, 3, "T26C x 3"))
    step_task(world, "insp2", instance, "review.dual", {"review_decision": "confirmed"})
    step_task(world, "oper", instance, "receiving.putaway",
              {"accepted_location": "A-01", "rejected_location": "NC-01"})
    assert stock(app, "THERMO", "RTM") == {("A-01", "available", "T26B"): 10,
                                           ("A-01", "available", "T26C"): 2,
                                           ("NC-01", "nonconforming", "T26C"): 3}
    assert instance_status(app, instance) == "completed"
    assert signatures(app, instance) == [("Insp1", "performed"), ("Insp2", "reviewed")]
    with app.app_context():  # the rejected goods are the quality manager's to decide
        [notice] = db.session.scalars(select(Notification).where(
            Notification.user_id == world.ids["qm"])).all()
        assert f"Receiving #{instance}" in notice.subject
        assert "3 × lot T26C: nonconforming at NC-01" in notice.body
    audit_ok(app)


# -- the gate's effects inside the process ---------------------------------------------------------


@pytest.mark.parametrize("world", ["SH"], indirect=True)
def test_expired_registration_blocks_the_arrival_and_posts_nothing(world: World) -> None:
    app = world.app
    instance = start(world, "SH", "PO old device")
    task = open_task(world, "clerk", instance, "receiving.arrival")
    page = complete(world, "clerk", task, arrival("OLD", [label(OLD, "O1") + " x 5"], 5),
                    expect=422)
    assert "registration" in page.get_data(as_text=True)
    assert stock(app, "OLD", "SH") == {}
    assert movements_of(app, instance) == []
    [blocked] = decisions(app, instance, "rules.blocked")
    assert "nmpa-gsp57-registration-invalid-receive" in rule_ids(blocked)
    with app.app_context():
        row = db.session.get(HumanTask, task)
        assert row is not None and row.status == "open"
    audit_ok(app)


@pytest.mark.parametrize("world", ["SH"], indirect=True)
def test_cold_chain_return_with_a_temperature_gap_is_rejected(world: World) -> None:
    app = world.app
    with app.app_context():  # the hospital had two units from us
        gel = md.get_product("GEL")
        cold, avail = md.get_location("SH", "Q-COLD"), md.get_location("SH", "A-COLD")
        ledger.receive(audit.SYSTEM, cold, gel, "HA25R", supplier=md.get_party("SUP"),
                       document="GR-0", expiry=EXPIRY, serials=["R1", "R2"])
        lot = ledger.get_lot(gel, "HA25R")
        for serial in ("R1", "R2"):
            ledger.transfer(audit.SYSTEM, "status_change", lot, 1, serial=serial,
                            source=ledger.Place(cold, "quarantine"),
                            target=ledger.Place(avail, "available"))
            ledger.ship(audit.SYSTEM, lot, 1, serial=serial,
                        source=ledger.Place(avail, "available"),
                        customer=md.get_party("CUS"), document="SO-1")
        db.session.commit()
    instance = start(world, "SH", "Return from City Hospital")
    gap = {**COLD_OK, "in_transit_record_present": "", "in_transit_min_c": "",
           "in_transit_max_c": "", "in_transit_record_note": ""}
    data = arrival("GEL", [label(GEL, "HA25R", "R1"), label(GEL, "HA25R", "R2")], 2,
                   is_return="y", supplier="", customer="CUS", purchase_order="SO-1", **gap)
    step_task(world, "clerk", instance, "receiving.arrival", data)
    assert stock(app, "GEL", "SH") == {("Q-COLD", "quarantine", "R1"): 1,
                                       ("Q-COLD", "quarantine", "R2"): 1}
    task = open_task(world, "insp1", instance, "receiving.inspect")
    page = complete(world, "insp1", task, inspection(2, 0), expect=422).get_data(as_text=True)
    assert "cold-chain return" in page
    [blocked] = decisions(app, instance, "rules.blocked")
    assert {"nmpa-gsp67-cold-return-reject", "nmpa-gsp67-temp-block"} <= rule_ids(blocked)
    # Nothing moved: the return waits in temperature-controlled quarantine.
    assert stock(app, "GEL", "SH") == {("Q-COLD", "quarantine", "R1"): 1,
                                       ("Q-COLD", "quarantine", "R2"): 1}
    assert [m.kind for m in movements_of(app, instance)] == ["return", "return"]
    # The inspector records what the pack says (rejected): the process goes on, and the
    # return ends up nonconforming, never back in stock.
    complete(world, "insp1", task, inspection(0, 2, "R1\nR2"))
    inspected = decisions(app, instance)[-1]
    assert "nmpa-gsp67-temp-quarantine" in rule_ids(inspected)
    assert not rule_ids(inspected) & {"nmpa-gsp67-temp-block", "nmpa-gsp67-cold-return-reject"}
    step_task(world, "oper", instance, "receiving.putaway", {})  # the cold red zone
    assert instance_status(app, instance) == "completed"
    assert stock(app, "GEL", "SH") == {("NC-COLD", "nonconforming", "R1"): 1,
                                       ("NC-COLD", "nonconforming", "R2"): 1}
    audit_ok(app)


@pytest.mark.parametrize("world", ["SH"], indirect=True)
def test_a_return_of_a_recalled_lot_stays_held_and_cannot_be_sold(world: World) -> None:
    from engine.errors import Conflict
    from engine.identity import service as identity
    from engine.recall import service as recalls

    app = world.app
    with app.app_context():  # the hospital had 20 thermometers of lot TR1; the lot is recalled
        thermo, quarantine = md.get_product("THERMO"), md.get_location("SH", "Q-01")
        stock_location = md.get_location("SH", "A-01")
        ledger.receive(audit.SYSTEM, quarantine, thermo, "TR1", 25, supplier=md.get_party("SUP"),
                       document="GR-0", expiry=EXPIRY)
        lot = ledger.get_lot(thermo, "TR1")
        ledger.transfer(audit.SYSTEM, "status_change", lot, 25,
                        source=ledger.Place(quarantine, "quarantine"),
                        target=ledger.Place(stock_location, "available"))
        ledger.ship(audit.SYSTEM, lot, 20, source=ledger.Place(stock_location, "available"),
                    customer=md.get_party("CUS"), document="SO-1")
        qm = identity.find_user("qm")
        assert qm is not None
        recall, _ = recalls.start(qm, product=thermo, lots=["TR1"], level="I",
                                  reason="Wrong calibration", source="Manufacturer notice")
        db.session.commit()
        number = recall.number
    assert stock(app, "THERMO", "SH") == {("A-01", "recalled", "TR1"): 5}

    # The hospital sends its 20 back through receiving; they pass inspection, and the putaway
    # holds them where they lie instead of making them available.
    instance = start(world, "SH", "Recall return from City Hospital")
    step_task(world, "clerk", instance, "receiving.arrival",
              arrival("THERMO", [label(THERMO, "TR1") + " x 20"], 20, is_return="y",
                      supplier="", customer="CUS", purchase_order="SO-1"))
    step_task(world, "insp1", instance, "receiving.inspect", inspection(20, 0))
    step_task(world, "insp2", instance, "review.dual", {"review_decision": "confirmed"})
    step_task(world, "oper", instance, "receiving.putaway", {})
    assert instance_status(app, instance) == "completed"
    assert stock(app, "THERMO", "SH") == {("A-01", "recalled", "TR1"): 5,
                                          ("RET-01", "recalled", "TR1"): 20}
    assert workflow_data(app, instance)["putaway"]["held_for_recall"] == {number: 20}
    assert [m.kind for m in movements_of(app, instance)] == ["return", "recall_hold"]

    # No posting makes recalled stock sellable while the recall is open.
    with app.app_context():
        lot = ledger.get_lot(md.get_product("THERMO"), "TR1")
        returns, stock_location = md.get_location("SH", "RET-01"), md.get_location("SH", "A-01")
        with pytest.raises(Conflict, match=f"under recall {number}"):
            # (released to quarantine by the recall's own path, then made available: refused)
            ledger.transfer(audit.SYSTEM, "recall_release", lot, 20,
                            source=ledger.Place(returns, "recalled"),
                            target=ledger.Place(returns, "quarantine"))
            ledger.transfer(audit.SYSTEM, "status_change", lot, 20,
                            source=ledger.Place(returns, "quarantine"),
                            target=ledger.Place(stock_location, "available"))
        db.session.rollback()
        assert recalls.refresh_returns(audit.SYSTEM, db.session.get_one(
            type(recall), recall.id)) == 20
        db.session.rollback()
    assert stock(app, "THERMO", "SH") == {("A-01", "recalled", "TR1"): 5,
                                          ("RET-01", "recalled", "TR1"): 20}
    audit_ok(app)


@pytest.mark.parametrize("world", ["SH"], indirect=True)
def test_delivery_note_mismatch_quarantines_and_sets_a_deadline(world: World) -> None:
    app = world.app
    instance = start(world, "SH", "PO short delivery")
    # The clerk ticks "matches", but 18 units were scanned against 20 on the delivery note:
    # the server computes the mismatch.
    step_task(world, "clerk", instance, "receiving.arrival",
              arrival("THERMO", [label(THERMO, "T26D") + " x 18"], 20))
    [decision] = decisions(app, instance)
    rules = {v["rule_id"] for v in decision["verdicts"]}
    assert rules == {"nmpa-gsp60-mismatch-quarantine", "nmpa-gsp60-mismatch-notify-qa"}
    assert decision["fact"]["matches_delivery_note"] is False
    assert signatures(app, instance) == []  # no signature demanded on a mismatch
    data = workflow_data(app, instance)
    [deadline] = data["arrival_compliance"]["deadlines"]
    assert deadline["notify"] == ["qa"] and deadline["due_at"]
    assert data["arrival_compliance"]["quarantine"] == ["quarantine"]
    assert data["notifications"][0]["notified_users"] == 1
    with app.app_context():
        [note] = db.session.scalars(select(Notification).where(
            Notification.user_id == world.ids["qm"]))
        assert "notify qa" in note.subject
    assert stock(app, "THERMO", "SH") == {("Q-01", "quarantine", "T26D"): 18}


@pytest.mark.parametrize("world", ["RTM"], indirect=True)
def test_transport_excursion_keeps_accepted_goods_in_quarantine(world: World) -> None:
    app = world.app
    instance = start(world, "RTM", "PO gel warm truck")
    scans = [label(GEL, "HA26E", s) for s in ("E1", "E2")]
    step_task(world, "clerk", instance, "receiving.arrival",
              arrival("GEL", scans, 2, **{**COLD_OK, "in_transit_max_c": "11.5"}))
    step_task(world, "insp1", instance, "receiving.inspect", inspection(2, 0))
    inspect_decision = decisions(app, instance)[-1]
    assert {v["rule_id"] for v in inspect_decision["verdicts"]} == {
        "mdr-art14-3-transport-conditions", "mdr-dual-review-inspect"}
    step_task(world, "insp2", instance, "review.dual", {"review_decision": "confirmed"})
    step_task(world, "oper", instance, "receiving.putaway", {"accepted_location": "A-COLD"})
    assert instance_status(app, instance) == "completed"
    # MDR Art 14(3): held in temperature-controlled quarantine for the QM's decision.
    assert stock(app, "GEL", "RTM") == {("Q-COLD", "quarantine", "E1"): 1,
                                        ("Q-COLD", "quarantine", "E2"): 1}
    assert workflow_data(app, instance)["putaway"]["held_in_quarantine"] == 2
    with app.app_context():
        bodies = db.session.scalars(select(Notification.body).where(
            Notification.user_id == world.ids["qm"])).all()
    assert any("2 accepted units held in quarantine (HA26E at Q-COLD)" in b for b in bodies)
    audit_ok(app)


@pytest.mark.parametrize("world", ["SH"], indirect=True)
def test_failed_goods_only_go_to_the_red_zone(world: World) -> None:
    app = world.app
    instance = start(world, "SH", "PO damaged thermometers")
    step_task(world, "clerk", instance, "receiving.arrival",
              arrival("THERMO", [label(THERMO, "T26F") + " x 4"], 4))
    step_task(world, "insp1", instance, "receiving.inspect", inspection(0, 4))
    # Nothing accepted: no second person; straight to putaway.
    task = open_task(world, "oper", instance, "receiving.putaway")
    page = complete(world, "oper", task, {"rejected_location": "A-01"}, expect=422)
    assert "red zone" in page.get_data(as_text=True)
    assert stock(app, "THERMO", "SH") == {("Q-01", "quarantine", "T26F"): 4}
    complete(world, "oper", task, {"rejected_location": "NC-01"})
    assert stock(app, "THERMO", "SH") == {("NC-01", "nonconforming", "T26F"): 4}
    [*_, putaway] = decisions(app, instance)
    assert [v["rule_id"] for v in putaway["verdicts"]] == ["nmpa-gsp70-failed-to-red"]
    audit_ok(app)


@pytest.mark.parametrize("world", ["SH"], indirect=True)
def test_a_bad_scan_is_refused_naming_the_field_and_nothing_is_posted(world: World) -> None:
    app = world.app
    instance = start(world, "SH", "PO bad label")
    task = open_task(world, "clerk", instance, "receiving.arrival")
    bad_check_digit = label(THERMO[:-1] + str((int(THERMO[-1]) + 1) % 10), "T1") + " x 2"
    page = complete(world, "clerk", task, arrival("THERMO", [bad_check_digit], 2), expect=422)
    text = page.get_data(as_text=True)
    assert "Line 1" in text and "scans" in text
    other_product = label(GEL, "HA1", "S1")
    page = complete(world, "clerk", task, arrival("THERMO", [other_product], 1), expect=422)
    assert "not the expected product" in page.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(StockMovement)) == 0
        assert db.session.scalar(select(func.count()).select_from(StockBalance)) == 0
        row = db.session.get(HumanTask, task)
        assert row is not None and row.status == "open"
    # A keyboard-wedge scan (GS typed as |, symbology prefix) is read as the label.
    wedge = f"]d201{THERMO}17{EXPIRY:%y%m%d}10T1|"
    complete(world, "clerk", task, arrival("THERMO", [wedge + " x 2"], 2))
    assert stock(app, "THERMO", "SH") == {("Q-01", "quarantine", "T1"): 2}


@pytest.mark.parametrize("world", ["SH"], indirect=True)
def test_an_unqualified_supplier_is_refused(world: World) -> None:
    instance = start(world, "SH", "PO lapsed supplier")
    task = open_task(world, "clerk", instance, "receiving.arrival")
    page = complete(world, "clerk", task, arrival("THERMO", [label(THERMO, "T9") + " x 1"], 1,
                                                  supplier="LAPSED"), expect=422)
    assert "not a qualified supplier" in page.get_data(as_text=True)
    assert stock(world.app, "THERMO", "SH") == {}


@pytest.mark.parametrize("world", ["SH"], indirect=True)
def test_an_imported_logger_file_overrides_what_the_form_claims(world: World) -> None:
    from engine.ledger import temperature

    app = world.app
    with app.app_context():  # the carrier's logger, imported for the delivery note
        csv = ("recorded_at,celsius\n2026-03-01T08:00+08:00,4.0\n"
               "2026-03-01T11:00+08:00,9.6\n2026-03-01T15:00+08:00,5.0\n")
        temperature.import_csv(audit.SYSTEM, csv, source="logger-88.csv", shipment="DN-LOG",
                               direction="inbound")
        db.session.commit()
    instance = start(world, "SH", "PO gel with logger")
    step_task(world, "clerk", instance, "receiving.arrival",
              arrival("GEL", [label(GEL, "HA26L", "L1")], 1, delivery_note_no="DN-LOG",
                      **COLD_OK))  # the form says 3.1-6.8 °C in transit
    data = workflow_data(app, instance)
    assert (data["in_transit_min_c"], data["in_transit_max_c"]) == (4.0, 9.6)
    task = open_task(world, "insp1", instance, "receiving.inspect")
    complete(world, "insp1", task, inspection(1, 0), expect=422)
    [blocked] = decisions(app, instance, "rules.blocked")
    assert "nmpa-gsp67-temp-block" in rule_ids(blocked)
    assert blocked["fact"]["in_transit_max_c"] == 9.6
    assert stock(app, "GEL", "SH") == {("Q-COLD", "quarantine", "L1"): 1}


def test_receiving_cannot_start_without_a_site(world: World) -> None:
    """Its steps could never complete (no site, no packs, no stock location): refused at the
    start page, naming the field, and nothing is started."""
    client = world.client("clerk")
    response = submit(client, "/processes/receiving/start", {"subject": "PO-NOSITE"})
    assert response.status_code == 422
    assert "the site where this happens" in response.get_data(as_text=True)
    with world.app.app_context():
        assert db.session.scalar(select(ProcessInstance.id).where(
            ProcessInstance.subject == "PO-NOSITE")) is None
    # A retired site (the page offers active ones only; a message or the API may name it).
    with world.app.app_context():
        site = db.session.scalar(select(Site).where(Site.code == "SH"))
        assert site is not None
        site.active = False
        db.session.flush()
        from engine.errors import InvalidInput
        from engine.identity import service as identity
        from engine.workflow.runtime import current_runtime

        clerk = identity.find_user("clerk")
        assert clerk is not None
        with pytest.raises(InvalidInput) as refused:
            current_runtime().start(clerk, "receiving", {}, subject="PO-X", site_code="SH")
        assert refused.value.text("zh") == "仓库 SH 已停用。"
        assert refused.value.fields["site"].zh == "仓库 SH 已停用：不能在此发起流程。"
        db.session.rollback()
