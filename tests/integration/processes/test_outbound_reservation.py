"""Picked goods belong to their sales order: a second order picks other stock (or none), each
order ships what it picked, a failed check makes the goods available again where they came
from, and a recall hold after picking holds the picked goods."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from engine import audit
from engine.db import db
from engine.ledger import service as ledger
from engine.ledger.models import StockMovement
from engine.masterdata import service as md
from tests.integration.processes.stockworld import (
    THERMO,
    World,
    complete,
    expiry_of,
    instance_status,
    label,
    movements_of,
    open_task,
    start,
    step,
    stock,
    world,
)
from tests.support.web import submit

__all__ = ["world"]  # the fixture, imported for pytest

CHECK_OK = {"seal_intact": "y", "label_legible": "y", "label_matches": "y"}
SHIP = {"carrier": "SF Express 顺丰速运", "waybill_no": "SF1234567890", "seal_applied": "y"}


def order(quantity: int) -> dict[str, Any]:
    return {"customer": "CUS", "product": "THERMO", "quantity": str(quantity)}


def scans(*lots: str) -> str:
    return "\n".join(label(THERMO, lot, expiry_of(lot)) for lot in lots)


def check_and_ship(world: World, instance: int, lot: str) -> None:
    step(world, "insp1", instance, "outbound.check", {**CHECK_OK, "udi_scans": scans(lot)})
    complete(world, "insp2", open_task(world, "insp2", instance, "review.dual"),
             {"review_decision": "confirmed"})
    step(world, "oper", instance, "outbound.ship", SHIP)


def fefo_now(world: World, quantity: int) -> list[tuple[str, str]]:
    with world.app.app_context():
        plan = ledger.allocate_fefo(md.get_product("THERMO"), quantity,
                                    site=md.get_site(world.site))
        return [(line.lot.lot_no, line.location.code) for line in plan]


@pytest.mark.parametrize("world", ["SH"], indirect=True)
def test_a_second_order_does_not_take_the_goods_picked_for_the_first(world: World) -> None:
    first = start(world, "oper", "outbound", "SO-FIRST")
    second = start(world, "oper", "outbound", "SO-SECOND")
    third = start(world, "oper", "outbound", "SO-THIRD")
    for instance, quantity in ((first, 40), (second, 40), (third, 1)):
        step(world, "oper", instance, "outbound.order", order(quantity))
    assert fefo_now(world, 40) == [("T-EARLY", "A-01")]  # what both orders were allocated

    step(world, "oper", first, "outbound.pick", {"picked_all": "y", "udi_scans": scans("T-EARLY")})
    assert stock(world.app, "THERMO", world.site)[("SHP-01", "picked", "T-EARLY")] == 40
    # The first order's goods lie in the dispatch area, a green zone; the second order is
    # sent to the next lot on the shelf instead.
    assert fefo_now(world, 40) == [("T-LATE", "A-01")]
    step(world, "oper", second, "outbound.pick",
         {"picked_all": "y", "udi_scans": scans("T-LATE")})
    # Nothing available is left for the third: its pick is refused and changes nothing.
    refused = complete(world, "oper", open_task(world, "oper", third, "outbound.pick"),
                       {"picked_all": "y"}, expect=422)
    assert refused.status_code == 422
    assert movements_of(world.app, third) == []

    check_and_ship(world, first, "T-EARLY")
    check_and_ship(world, second, "T-LATE")
    shipped = {instance: [(m["lot"], m["quantity"], m["from"])
                          for m in movements_of(world.app, instance) if m["kind"] == "ship"]
               for instance in (first, second)}
    assert shipped == {first: [("T-EARLY", 40, "picked")], second: [("T-LATE", 40, "picked")]}
    assert instance_status(world.app, first) == instance_status(world.app, second) == "completed"
    after = stock(world.app, "THERMO", world.site)
    assert not any(key[0] == "SHP-01" for key in after)
    assert ("A-01", "available", "T-EARLY") not in after
    assert ("A-01", "available", "T-LATE") not in after


@pytest.mark.parametrize("world", ["CHI"], indirect=True)
def test_a_failed_check_sets_aside_goods_picked_in_the_dispatch_area_where_they_lie(
        world: World) -> None:
    with world.app.app_context():
        thermo = md.get_product("THERMO")
        ledger.transfer(audit.SYSTEM, "move", ledger.get_lot(thermo, "T-EARLY"), 40,
                        source=ledger.Place(md.get_location(world.site, "A-01"), "available"),
                        target=ledger.Place(md.get_location(world.site, "SHP-01"), "available"))
        db.session.commit()
    instance = start(world, "oper", "outbound", "SO-DOCK")
    step(world, "oper", instance, "outbound.order", order(45))
    step(world, "oper", instance, "outbound.pick",
         {"picked_all": "y", "udi_scans": scans("T-EARLY", "T-LATE")})
    picked = stock(world.app, "THERMO", world.site)
    assert (picked[("SHP-01", "picked", "T-EARLY")], picked[("SHP-01", "picked", "T-LATE")]) == (
        40, 5)

    step(world, "insp1", instance, "outbound.check", {**CHECK_OK, "package_damaged": "y",
                                                      "check_note": "carton crushed"})
    step(world, "oper", instance, "outbound.unpick", {"set_aside": "y"})
    assert instance_status(world.app, instance) == "completed"
    assert [(m["kind"], m["lot"], m["quantity"], m["from"], m["to"])
            for m in movements_of(world.app, instance)] == [
        ("status_change", "T-EARLY", 40, "available", "picked"),
        ("pick", "T-LATE", 5, "available", "picked"),
        ("status_change", "T-EARLY", 40, "picked", "quarantine"),
        ("status_change", "T-LATE", 5, "picked", "quarantine"),
    ]
    after = stock(world.app, "THERMO", world.site)
    assert after[("SHP-01", "quarantine", "T-EARLY")] == 40
    assert after[("SHP-01", "quarantine", "T-LATE")] == 5
    assert not any(status == "picked" for _where, status, _lot in after)


@pytest.mark.parametrize("world", ["CHI"], indirect=True)
def test_a_recall_after_picking_holds_the_picked_goods_and_the_check_fails(
        world: World) -> None:
    instance = start(world, "oper", "outbound", "SO-HELD")
    step(world, "oper", instance, "outbound.order", order(45))
    step(world, "oper", instance, "outbound.pick",
         {"picked_all": "y", "udi_scans": scans("T-EARLY", "T-LATE")})
    with world.app.app_context():
        lot = ledger.get_lot(md.get_product("THERMO"), "T-EARLY")
        held = ledger.hold_lot(audit.SYSTEM, lot, "Recall FSN-2", document="RC-2")
        db.session.commit()
        assert ("picked", 40) in {(m.from_status, m.quantity) for m in held}
    assert stock(world.app, "THERMO", world.site)[("SHP-01", "recalled", "T-EARLY")] == 40

    step(world, "insp1", instance, "outbound.check", {**CHECK_OK, "udi_scans": scans("T-LATE")})
    step(world, "oper", instance, "outbound.unpick", {"set_aside": "y"})
    assert instance_status(world.app, instance) == "completed"
    assert not [m for m in movements_of(world.app, instance) if m["kind"] == "ship"]
    after = stock(world.app, "THERMO", world.site)
    assert after[("SHP-01", "recalled", "T-EARLY")] == 40  # stays where the hold found it
    assert after[("SHP-01", "quarantine", "T-LATE")] == 5  # set aside for QA


@pytest.mark.parametrize("world", ["SH"], indirect=True)
def test_terminating_an_outbound_frees_what_it_picked_and_nothing_else(world: World) -> None:
    abandoned = start(world, "oper", "outbound", "SO-ABANDONED")
    other = start(world, "oper", "outbound", "SO-OTHER")
    step(world, "oper", abandoned, "outbound.order", order(45))
    step(world, "oper", other, "outbound.order", order(5))
    step(world, "oper", abandoned, "outbound.pick",
         {"picked_all": "y", "udi_scans": scans("T-EARLY", "T-LATE")})
    step(world, "oper", other, "outbound.pick", {"picked_all": "y", "udi_scans": scans("T-LATE")})
    assert stock(world.app, "THERMO", world.site)[("SHP-01", "picked", "T-LATE")] == 10

    # The page says what terminating does; without a reason nothing happens.
    qm = world.client("qm")
    url = f"/processes/instances/{abandoned}"
    assert "Goods it picked become available again" in qm.get(url).get_data(
        as_text=True)
    refused = submit(qm, f"{url}/terminate", {"reason": " ", "confirm": "y"}, form_url=url)
    assert refused.status_code == 302 and instance_status(world.app, abandoned) == "running"
    ended = submit(qm, f"{url}/terminate",
                   {"reason": "Customer cancelled the order", "confirm": "y"}, form_url=url)
    assert ended.status_code == 302
    assert instance_status(world.app, abandoned) == "terminated"

    freed = [(m["kind"], m["lot"], m["quantity"], m["from"], m["to"], m["actor"])
             for m in movements_of(world.app, abandoned)][-2:]
    assert freed == [("status_change", "T-EARLY", 40, "picked", "available", "system"),
                     ("status_change", "T-LATE", 5, "picked", "available", "system")]
    after = stock(world.app, "THERMO", world.site)
    assert after[("SHP-01", "available", "T-EARLY")] == 40  # where they lie, sellable again
    assert after[("SHP-01", "available", "T-LATE")] == 5
    assert after[("SHP-01", "picked", "T-LATE")] == 5  # the other order keeps its goods
    with world.app.app_context():
        reasons = db.session.scalars(select(StockMovement.reason).where(
            StockMovement.instance_id == str(abandoned),
            StockMovement.kind == "status_change", StockMovement.to_status == "available"))
        assert all("terminated by" in r and "Customer cancelled the order" in r
                   for r in reasons)
        assert audit.verify().ok
    check_and_ship(world, other, "T-LATE")
    assert instance_status(world.app, other) == "completed"
