"""Picked stock is reserved for its order: it waits in the dispatch area as "picked", FEFO never
allocates it to another order, only its own shipment takes it, a recall holds it and gives it
back as picked, and a count of the dispatch area counts it on its own lines."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from engine.db import db
from engine.errors import InvalidInput, PermissionDenied
from engine.ledger import counts, integrity
from engine.ledger import service as ledger
from engine.ledger import trace as tracing
from engine.ledger.models import Lot
from engine.masterdata.models import Location
from tests.integration.ledger.world import World, place
from tests.support.factories import PASSWORD

TODAY = date.today()


def quantity(location: Location, status: str, lot: Lot) -> int:
    return sum(b.quantity for b in ledger.balances(lot=lot, location=location, status=status))


def two_lots(world: World) -> tuple[Lot, Lot]:
    first = world.receive_available("EARLY", 5, expiry=TODAY + timedelta(days=60))
    later = world.receive_available("LATE", 10, expiry=TODAY + timedelta(days=300))
    db.session.commit()
    return first, later


def test_a_second_order_never_gets_the_goods_picked_for_the_first(world: World) -> None:
    first, later = two_lots(world)
    picks = ledger.pick_fefo(world.operator, world.thermometer, 5, site=world.shanghai,
                             to=world.shipping, document="SO-1")
    db.session.commit()
    assert [(m.kind, m.from_status, m.to_status, m.lot_id) for m in picks] == [
        ("pick", "available", "picked", first.id)]
    assert quantity(world.shipping, "picked", first) == 5
    # The dispatch area is a green zone, yet the first order's goods are not for sale.
    assert [(a.lot.lot_no, a.location.code) for a in
            ledger.allocate_fefo(world.thermometer, 5, site=world.shanghai)] == [("LATE", "A-01")]
    assert ledger.on_hand(world.thermometer, status="available", site=world.shanghai) == 10
    assert ledger.on_hand(world.thermometer, status="picked", site=world.shanghai) == 5

    second = ledger.pick_fefo(world.operator, world.thermometer, 10, site=world.shanghai,
                              to=world.shipping, document="SO-2")
    db.session.commit()
    assert [(m.lot_id, m.quantity) for m in second] == [(later.id, 10)]
    with pytest.raises(InvalidInput, match="Only 0 of THERMO can be allocated"):
        ledger.pick_fefo(world.operator, world.thermometer, 1, site=world.shanghai,
                         to=world.shipping, document="SO-3")

    shipped = ledger.ship(world.operator, first, 5, source=place(world.shipping, "picked"),
                          customer=world.hospital, document="DN-1")
    db.session.commit()
    assert (shipped.from_status, shipped.to_status) == ("picked", "shipped")
    assert quantity(world.shipping, "picked", first) == 0
    assert quantity(world.shipping, "picked", later) == 10
    assert integrity.verify_balances().ok


def test_stock_already_in_the_dispatch_area_is_picked_in_place(world: World) -> None:
    lot = world.receive_available("EARLY", 5, expiry=TODAY + timedelta(days=60))
    ledger.transfer(world.operator, "move", lot, 3, source=place(world.stock),
                    target=place(world.shipping))
    db.session.commit()
    picks = ledger.pick_fefo(world.operator, world.thermometer, 5, site=world.shanghai,
                             to=world.shipping, document="SO-1")
    db.session.commit()
    assert sorted((m.kind, m.quantity, m.from_location_id, m.to_location_id) for m in picks) == [
        ("pick", 2, world.stock.id, world.shipping.id),
        ("status_change", 3, world.shipping.id, world.shipping.id)]
    assert quantity(world.shipping, "picked", lot) == 5
    assert quantity(world.shipping, "available", lot) == 0
    # Picking in place is no decision about the goods: the backward trace leaves it out.
    assert [r.kind for r in tracing.lot_backward(lot)] == ["receive", "status_change"]


def test_only_available_stock_is_picked_and_picked_stock_only_ships(world: World) -> None:
    lot = world.receive_available("T1", 10)
    ledger.receive(world.clerk, world.quarantine, world.thermometer, "Q1", 5,
                   supplier=world.supplier, document="GR-Q1", expiry=TODAY + timedelta(days=90))
    held = ledger.get_lot(world.thermometer, "Q1")
    ledger.transfer(world.operator, "pick", lot, 4, source=place(world.stock),
                    target=place(world.shipping, "picked"))
    db.session.commit()
    with pytest.raises(InvalidInput, match="cannot go from"):  # a pick reserves, always
        ledger.transfer(world.operator, "pick", lot, 1, source=place(world.stock),
                        target=place(world.shipping))
    with pytest.raises(InvalidInput, match="cannot go from"):
        ledger.transfer(world.qm, "status_change", held, 1,
                        source=place(world.quarantine, "quarantine"),
                        target=place(world.shipping, "picked"))
    with pytest.raises(InvalidInput, match="shipping zone"):
        ledger.transfer(world.operator, "pick", lot, 1, source=place(world.stock),
                        target=place(world.stock2, "picked"))
    with pytest.raises(InvalidInput, match="cannot go from"):  # picked again for another order
        ledger.transfer(world.operator, "pick", lot, 1, source=place(world.shipping, "picked"),
                        target=place(world.stock2, "picked"))
    with pytest.raises(InvalidInput, match="not scrapped directly"):
        ledger.scrap(world.qm, lot, 1, source=place(world.shipping, "picked"), reason="dropped")
    with pytest.raises(PermissionDenied, match=r"ledger\.move"):  # reserving is the operator's
        ledger.transfer(world.inspector, "status_change", lot, 1,
                        source=place(world.shipping, "picked"), target=place(world.shipping))
    ledger.lock_lot(world.qm, lot, "Complaint QC-9")
    with pytest.raises(InvalidInput, match="locked from outbound"):
        ledger.ship(world.operator, lot, 4, source=place(world.shipping, "picked"),
                    customer=world.hospital, document="DN-1")
    ledger.unlock_lot(world.qm, lot, "Complaint not confirmed")
    ledger.ship(world.operator, lot, 4, source=place(world.shipping, "picked"),
                customer=world.hospital, document="DN-1")
    db.session.commit()
    assert ledger.shipped_to(world.hospital, lot) == 4


def test_undoing_a_pick_makes_the_goods_available_where_they_came_from(world: World) -> None:
    lot = world.receive_available("T1", 10)
    ledger.transfer(world.operator, "move", lot, 2, source=place(world.stock),
                    target=place(world.shipping))
    ledger.pick_fefo(world.operator, world.thermometer, 10, site=world.shanghai,
                     to=world.shipping, document="SO-1")
    db.session.commit()
    assert quantity(world.shipping, "picked", lot) == 10
    back = ledger.transfer(world.operator, "move", lot, 8,
                           source=place(world.shipping, "picked"), target=place(world.stock))
    here = ledger.transfer(world.operator, "status_change", lot, 2,
                           source=place(world.shipping, "picked"), target=place(world.shipping))
    db.session.commit()
    assert (back.from_status, back.to_status, here.from_status, here.to_status) == (
        "picked", "available", "picked", "available")
    assert quantity(world.stock, "available", lot) == 8
    assert quantity(world.shipping, "available", lot) == 2
    with pytest.raises(InvalidInput, match="cannot go from"):  # a move back is the only way
        ledger.transfer(world.operator, "status_change", lot, 1,
                        source=place(world.shipping), target=place(world.stock, "picked"))
    assert integrity.verify_balances().ok


def test_a_recall_holds_picked_goods_and_release_gives_them_back_to_their_order(
        world: World) -> None:
    lot = world.receive_available("T1", 10)
    ledger.transfer(world.operator, "move", lot, 3, source=place(world.stock),
                    target=place(world.shipping))
    # 6 picked from the shelf, one of them put back in the dispatch area: the dispatch area
    # holds the lot both picked (5) and available (3 + 1); 1 stays on the shelf.
    ledger.pick_fefo(world.operator, world.thermometer, 6, site=world.shanghai,
                     to=world.shipping, document="SO-1")
    ledger.transfer(world.operator, "status_change", lot, 1,
                    source=place(world.shipping, "picked"), target=place(world.shipping))
    db.session.commit()
    assert quantity(world.shipping, "picked", lot) == 5
    assert quantity(world.shipping, "available", lot) == 4
    assert quantity(world.stock, "available", lot) == 1

    held = ledger.hold_lot(world.qm, lot, "FSN-2026-09", document="RC-9")
    db.session.commit()
    assert sorted((m.from_status, m.quantity) for m in held) == [
        ("available", 1), ("available", 4), ("picked", 5)]
    assert quantity(world.shipping, "recalled", lot) == 9
    assert quantity(world.shipping, "picked", lot) == 0
    with pytest.raises(InvalidInput, match="Only available stock"):
        ledger.ship(world.operator, lot, 1, source=place(world.shipping, "recalled"),
                    customer=world.hospital, document="DN-1")
    with pytest.raises(InvalidInput, match="Only an order's pick"):
        ledger.release_lot(world.qm, lot, "Not affected", to_status="picked")

    ledger.release_lot(world.qm, lot, "Recall closed: lot not affected", document="RC-9")
    db.session.commit()
    assert quantity(world.shipping, "picked", lot) == 5
    assert quantity(world.shipping, "available", lot) == 4
    assert quantity(world.stock, "available", lot) == 1
    assert integrity.verify_balances().ok


def test_a_count_of_the_dispatch_area_counts_picked_goods_on_their_own_lines(
        world: World) -> None:
    lot = world.receive_available("T1", 10)
    ledger.transfer(world.operator, "move", lot, 2, source=place(world.stock),
                    target=place(world.shipping))
    ledger.transfer(world.operator, "pick", lot, 5, source=place(world.stock),
                    target=place(world.shipping, "picked"))
    db.session.commit()
    sheet = counts.open_count(world.operator, world.shipping)
    db.session.commit()
    assert sorted((ln.status, ln.expected) for ln in sheet.lines) == [
        ("available", 2), ("picked", 5)]
    with pytest.raises(InvalidInput, match="Found stock is counted as available"):
        counts.record_count(world.operator, sheet, world.receive_available("T2", 1), 1,
                            status="picked")
    db.session.rollback()
    counts.record_count(world.operator, sheet, lot, 4, status="picked", note="1 carton gone")
    counts.record_count(world.operator, sheet, lot, 2, status="available")
    posted = counts.post_count(world.operator, sheet, "Dispatch area count",
                               password=PASSWORD, username="operator")
    db.session.commit()
    assert [(m.from_status, m.to_status, m.quantity) for m in posted] == [
        ("picked", "missing", 1)]
    assert quantity(world.shipping, "picked", lot) == 4
    assert integrity.verify_balances().ok
