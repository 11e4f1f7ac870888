"""Outbound (销售出库) end to end, driven as staff drive it: the operator starts the process and
enters the sales order, picks FEFO (held stock is never picked), an inspector checks the goods
(出库复核) and a second inspector confirms, the operator ships with carrier, waybill and the
delivery note, printable and as a PDF. One run per region with its pack active; then the gate
inside the process: blocks that change nothing, a warning, a demanded second person, a failed
check that sets the goods aside for QA."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from engine import audit
from engine.audit import AuditEvent
from engine.db import db
from engine.ledger import service as ledger
from engine.masterdata import service as md
from tests.integration.processes.stockworld import (
    THERMO,
    TODAY,
    World,
    audit_ok,
    complete,
    expiry_of,
    instance_status,
    label,
    movements_of,
    open_task,
    party_id,
    signatures,
    start,
    step,
    stock,
    workflow_data,
    world,
)

__all__ = ["world"]  # the fixture, imported for pytest

REGIONS = pytest.mark.parametrize("world", ["SH", "CHI", "RTM"], indirect=True)
CHECK_OK = {"seal_intact": "y", "label_legible": "y", "label_matches": "y"}
SHIP = {"carrier": "SF Express 顺丰速运", "waybill_no": "SF1234567890", "seal_applied": "y"}


def order(quantity: int = 45, customer: str = "CUS", **extra: Any) -> dict[str, Any]:
    return {"customer": customer, "product": "THERMO", "quantity": str(quantity),
            "customer_order_no": "PO-H-9", **extra}


def pick(*lots: str) -> dict[str, Any]:
    return {"picked_all": "y",
            "udi_scans": "\n".join(label(THERMO, lot, expiry_of(lot)) for lot in lots)}


def text(response: Any) -> str:
    return str(response.get_data(as_text=True))


def audit_actions(world: World, action: str) -> list[dict[str, Any]]:
    with world.app.app_context():
        rows = db.session.scalars(select(AuditEvent.after).where(AuditEvent.action == action)
                                  .order_by(AuditEvent.seq)).all()
        return [json.loads(row) for row in rows]


def to_check(world: World, quantity: int = 45, lots: tuple[str, ...] = ("T-EARLY", "T-LATE")
             ) -> int:
    instance = start(world, "oper", "outbound", "SO-2026-001")
    step(world, "oper", instance, "outbound.order", order(quantity))
    task = open_task(world, "oper", instance, "outbound.pick")
    pick_list = text(world.client("oper").get(f"/inbox/tasks/{task}")).split("gx-worklist")[1]
    assert "Pick list (FEFO)" in pick_list and "A-01" in pick_list
    step(world, "oper", instance, "outbound.pick", pick(*lots))
    return instance


@REGIONS
def test_outbound_end_to_end(world: World) -> None:
    site = world.site
    instance = to_check(world)
    # FEFO: the earliest lot is held for a recall and stays put; the next two are picked.
    picks = [m for m in movements_of(world.app, instance) if m["kind"] == "pick"]
    assert [(m["lot"], m["quantity"]) for m in picks] == [("T-EARLY", 40), ("T-LATE", 5)]
    assert all(m["task_id"] for m in picks)
    assert stock(world.app, "THERMO", site)[("A-01", "recalled", "T-RECALL")] == 40
    # Picked goods wait in the dispatch area, reserved for this order.
    assert stock(world.app, "THERMO", site)[("SHP-01", "picked", "T-EARLY")] == 40
    assert stock(world.app, "THERMO", site)[("SHP-01", "picked", "T-LATE")] == 5

    check = open_task(world, "insp1", instance, "outbound.check")
    page = text(world.client("insp1").get(f"/inbox/tasks/{check}"))
    goods = page.split("gx-worklist", 1)[1].split("</table>", 1)[0]
    assert "Goods picked for this order" in goods
    assert [row.count("SHP-01") for row in goods.split("<tr>")[2:]] == [1, 1]
    assert "T-EARLY" in goods and "T-LATE" in goods and "T-RECALL" not in goods
    assert label(THERMO, "T-LATE", expiry_of("T-LATE")) not in page.split('name="udi_scans"')[1] \
        .split("</textarea>")[0], "the checker scans again: the picker's scans are not filled in"
    partly = complete(world, "insp1", check, {**CHECK_OK, "udi_scans": label(
        THERMO, "T-EARLY", expiry_of("T-EARLY"))}, expect=422)
    assert "not scanned: T-LATE" in text(partly), "the check scans every picked lot"
    complete(world, "insp1", check, {**CHECK_OK, "udi_scans": "\n".join(
        label(THERMO, lot, expiry_of(lot)) for lot in ("T-EARLY", "T-LATE"))})
    # Every pack demands a second person for a passed check: the checker cannot review it.
    review = open_task(world, "insp1", instance, "review.dual")
    refused = complete(world, "insp1", review, {"review_decision": "confirmed"}, expect=422)
    assert "second person" in text(refused) or "另一" in text(refused)
    complete(world, "insp2", review, {"review_decision": "confirmed"})

    ship = open_task(world, "oper", instance, "outbound.ship")
    if site == "SH":  # GSP 92: the delivery note needs our seal; the step changes nothing
        blocked = complete(world, "oper", ship, {**SHIP, "seal_applied": ""}, expect=422)
        assert "carry our seal" in text(blocked)
        assert "nmpa-gsp92-ship-delivery-note" in text(blocked)
        assert "(missing: seal)" in text(blocked), "only what is missing is named"
        assert not [m for m in movements_of(world.app, instance) if m["kind"] == "ship"]
    complete(world, "oper", ship, SHIP)
    assert instance_status(world.app, instance) == "completed"

    shipped = [m for m in movements_of(world.app, instance) if m["kind"] == "ship"]
    number = f"DN-{site}-{instance:06d}"
    customer = party_id(world.app, "CUS")
    assert [(m["lot"], m["quantity"], m["from"], m["to"], m["party"], m["document"])
            for m in shipped] == [("T-EARLY", 40, "picked", "shipped", customer, number),
                                  ("T-LATE", 5, "picked", "shipped", customer, number)]
    after = stock(world.app, "THERMO", site)
    assert not any(key[0] == "SHP-01" for key in after)
    assert after[("A-01", "available", "T-LATE")] == 35
    assert after[("A-01", "recalled", "T-RECALL")] == 40
    assert signatures(world.app) == [("insp1", "verified"), ("insp2", "reviewed"),
                                     ("oper", "responsible")]
    audit_ok(world.app)
    with world.app.app_context():
        assert ledger.shipped_to(md.get_party("CUS"),
                                 ledger.get_lot(md.get_product("THERMO"), "T-EARLY")) == 40

    page = world.client("insp2").get(f"/delivery-notes/{instance}")
    assert page.status_code == 200
    body = text(page)
    for expected in ("随货同行单", "Delivery note", number, "SO-2026-001", "CUS 医院",
                     "CUS Road 8", "Dr. Li", "粤械注准20222070123", "深圳安测医疗电子有限公司",
                     "T-EARLY", "T-LATE", expiry_of("T-EARLY").isoformat(), "MT-201",
                     "-20–55 °C", "SF1234567890", "@media print",
                     "Responsible"):
        assert expected in body, expected
    listing = text(world.client("oper").get("/delivery-notes/"))
    assert number in listing
    document = world.client("oper").get(f"/delivery-notes/{instance}.pdf")
    assert document.status_code == 200 and document.mimetype == "application/pdf"
    assert document.data.startswith(b"%PDF")
    # The instance's history shows recorded data as people read it: the order's Chinese
    # names as written (not \\u escapes), fields by their form labels, no JSON.
    history = text(world.client("oper").get(f"/processes/instances/{instance}"))
    assert "customer_name: CUS 医院" in history and "&#34;customer_name" not in history
    assert '<dt title="carrier">Carrier' in history
    # What a step adds itself (no form labels it) has a name too.
    assert '<dt title="delivery_note">Delivery note</dt>' in history
    assert '<dt title="picked">Picked</dt>' in history


@pytest.mark.parametrize("world", ["SH"], indirect=True)
def test_nmpa_blocks_a_customer_whose_scope_misses_the_class(world: World) -> None:
    instance = start(world, "oper", "outbound", "SO-narrow")
    task = open_task(world, "oper", instance, "outbound.order")
    blocked = complete(world, "oper", task, order(5, customer="NARROW"), expect=422)
    assert "scope does not cover this device class" in text(blocked)
    assert movements_of(world.app, instance) == []
    [event] = audit_actions(world, "rules.blocked")
    assert event["step"] == "outbound.order"
    assert event["fact"]["customer_scope_covers_class"] is False
    # The same order for a customer whose licence covers class II goes through.
    complete(world, "oper", task, order(5))
    assert open_task(world, "oper", instance, "outbound.pick")


@pytest.mark.parametrize("world", ["SH", "CHI", "RTM"], indirect=True)
def test_a_failed_check_is_recorded_and_sets_the_goods_aside_for_qa(world: World) -> None:
    from engine.identity.models import Notification

    instance = to_check(world)
    step(world, "insp1", instance, "outbound.check", {**CHECK_OK, "package_damaged": "y",
                                                      "check_note": "carton crushed"})
    # The failure is the record (GSP 87): nothing ships; the goods are set aside for QA.
    assert open_task(world, "oper", instance, "outbound.unpick")
    step(world, "oper", instance, "outbound.unpick", {"set_aside": "y"})
    assert instance_status(world.app, instance) == "completed"
    kinds = [(m["kind"], m["lot"], m["quantity"], m["from"], m["to"])
             for m in movements_of(world.app, instance)]
    assert kinds == [("pick", "T-EARLY", 40, "available", "picked"),
                     ("pick", "T-LATE", 5, "available", "picked"),
                     ("status_change", "T-EARLY", 40, "picked", "quarantine"),
                     ("status_change", "T-LATE", 5, "picked", "quarantine")]
    after = stock(world.app, "THERMO", world.site)
    assert (after[("SHP-01", "quarantine", "T-EARLY")],
            after[("SHP-01", "quarantine", "T-LATE")]) == (40, 5)
    assert not any(status in ("picked", "shipped") for _where, status, _lot in after)
    data = workflow_data(world.app, instance)
    assert data["check_passed"] is False
    if world.site == "SH":  # NMPA: the check's verdict quarantines and QA is told at once
        verdicts = {v["rule_id"] for d in audit_actions(world, "rules.decision")
                    if d["step"] == "outbound.check" for v in d["verdicts"]}
        assert {"nmpa-gsp87-check-anomaly", "nmpa-gsp87-check-notify-qa"} <= verdicts
        assert data["check_notifications"][0]["notified_users"] >= 1
        with world.app.app_context():
            notice = db.session.scalar(select(Notification).where(
                Notification.subject.contains(f"#{instance}")))
            assert notice is not None and "carton crushed" in notice.body
            assert notice.subject.endswith(" UTC")
    audit_ok(world.app)


@pytest.mark.parametrize("world", ["CHI"], indirect=True)
def test_fda_stops_an_order_that_only_recalled_stock_could_fill(world: World) -> None:
    instance = start(world, "oper", "outbound", "SO-big")
    task = open_task(world, "oper", instance, "outbound.order")
    blocked = complete(world, "oper", task, order(100), expect=422)
    assert "recall" in text(blocked)
    assert audit_actions(world, "rules.blocked")[0]["fact"]["stock_status"] == "recalled"
    assert movements_of(world.app, instance) == []


@REGIONS
def test_near_expiry_stock_is_sold_with_a_warning(world: World) -> None:
    with world.app.app_context():
        thermo = md.get_product("THERMO")
        where = md.get_location(world.site, "A-01")
        supplier = md.get_party("SUP")
        ledger.receive(audit.SYSTEM, md.get_location(world.site, "Q-01"), thermo, "T-SHORT", 6,
                       supplier=supplier, document="GR-SHORT",
                       expiry=TODAY + timedelta(days=90))
        ledger.transfer(audit.SYSTEM, "status_change", ledger.get_lot(thermo, "T-SHORT"), 6,
                        source=ledger.Place(md.get_location(world.site, "Q-01"), "quarantine"),
                        target=ledger.Place(where, "available"), reason="Inspection passed")
        db.session.commit()
    instance = start(world, "oper", "outbound", "SO-short")
    step(world, "oper", instance, "outbound.order", order(6))
    [decision] = [e for e in audit_actions(world, "rules.decision")
                  if e["step"] == "outbound.order"]
    assert decision["outcome"] == "warn"
    with world.app.app_context():
        today = ledger.site_today(md.get_site(world.site))
    assert decision["fact"]["days_to_expiry"] == (TODAY + timedelta(days=90) - today).days
    page = text(world.client("oper").get(f"/processes/instances/{instance}"))
    assert "180" in page or "near" in page or "近效期" in page
    assert open_task(world, "oper", instance, "outbound.pick")


@pytest.mark.parametrize("world", ["SH"], indirect=True)
def test_serialised_cold_chain_shipment_needs_the_cold_chain_checklist(world: World) -> None:
    instance = start(world, "oper", "outbound", "SO-gel")
    step(world, "oper", instance, "outbound.order",
         {"customer": "CUS", "product": "GEL", "quantity": "2"})
    from tests.integration.processes.stockworld import GEL

    gel_expiry = TODAY + timedelta(days=400)
    step(world, "oper", instance, "outbound.pick",
         {"picked_all": "y", "udi_scans": label(GEL, "G-1", gel_expiry, "G0001")})
    step(world, "insp1", instance, "outbound.check",
         {**CHECK_OK, "udi_scans": label(GEL, "G-1", gel_expiry, "G0001") + "\n"
          + label(GEL, "G-1", gel_expiry, "G0002")})
    review = open_task(world, "insp2", instance, "review.dual")
    complete(world, "insp2", review, {"review_decision": "confirmed"})
    ship = open_task(world, "oper", instance, "outbound.ship")
    blocked = complete(world, "oper", ship, SHIP, expect=422)
    assert "cold" in text(blocked).lower() or "冷链" in text(blocked)
    complete(world, "oper", ship, {**SHIP, "boxes_preconditioned": "y",
                                   "vehicle_at_temperature": "y",
                                   "cold_chain_responsible_person": "Wang Qiang"})
    shipped = [(m["serial"], m["quantity"]) for m in movements_of(world.app, instance)
               if m["kind"] == "ship"]
    assert shipped == [("G0001", 1), ("G0002", 1)]
    body = text(world.client("oper").get(f"/delivery-notes/{instance}"))
    assert "G0001" in body and "2–8 °C" in body and "Wang Qiang" in body


def test_demo_leaves_a_shipped_outbound_and_a_release_for_the_quality_manager(
        app: Any, client: Any) -> None:
    from engine import demo
    from engine.workflow.models import HumanTask, ProcessInstance
    from tests.support.web import login

    with app.app_context():
        demo.seed_users()
        demo.seed_masterdata()
        demo.seed_stock()
        demo.activate_rule_packs()
        db.session.commit()
        lines = demo.seed_outbound_and_release()
        db.session.commit()
        assert "shipped" in lines[0]
        sale, picked = db.session.scalars(select(ProcessInstance).where(
            ProcessInstance.process_key == "outbound").order_by(ProcessInstance.id)).all()
        decision = db.session.scalar(select(ProcessInstance).where(
            ProcessInstance.process_key == "release"))
        assert sale is not None and sale.status == "completed"
        assert decision is not None
        waiting = db.session.scalar(select(HumanTask).where(
            HumanTask.instance_id == decision.id, HumanTask.status == "open"))
        assert waiting is not None
        assert (waiting.step, waiting.role) == ("release.decide", "quality_manager")
        # The Chicago order's picked stock belongs to a process: it waits for its check.
        check = db.session.scalar(select(HumanTask).where(
            HumanTask.instance_id == picked.id, HumanTask.status == "open"))
        assert check is not None and (check.step, check.role) == ("outbound.check", "inspector")
        assert picked.site_code == "CHI"
        sale_id, decision_id = sale.id, decision.id
        assert demo.seed_outbound_and_release() == ["outbound and release: already seeded"]
        assert audit.verify().ok
    assert stock(app, "BANDAGE-10", "CHI")[("SHP-01", "picked", "B24CHI")] == 20
    login(client, "qm", demo.DEMO_PASSWORD)
    page = client.get(f"/delivery-notes/{sale_id}")
    assert page.status_code == 200 and "上海仁康康复医院" in text(page)
    assert client.get(f"/delivery-notes/{sale_id}.pdf").data.startswith(b"%PDF")
    # The sale's instance page links its delivery note; the release's has none.
    instance_page = text(client.get(f"/processes/instances/{sale_id}"))
    assert f'href="/delivery-notes/{sale_id}"' in instance_page
    assert f'href="/delivery-notes/{sale_id}.pdf"' in instance_page
    assert "/delivery-notes/" not in text(client.get(f"/processes/instances/{decision_id}"))
