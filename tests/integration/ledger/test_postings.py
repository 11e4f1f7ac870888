"""Postings as the warehouse makes them: receive, inspect, put away, pick, ship, return, correct.
Every movement is appended, balances follow in the same transaction and never go negative."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError

from engine import audit, signals
from engine.audit import AuditEvent
from engine.db import db
from engine.errors import Conflict, InvalidInput, PermissionDenied
from engine.ledger import integrity
from engine.ledger import service as ledger
from engine.ledger.models import SerialUnit, StockBalance, StockMovement
from tests.integration.ledger.world import World, kinds, place


def quantity(world: World, location, status: str, lot, serial: str = "") -> int:  # type: ignore[no-untyped-def]
    return db.session.scalar(select(StockBalance.quantity).where(
        StockBalance.location_id == location.id, StockBalance.lot_id == lot.id,
        StockBalance.serial == serial, StockBalance.status == status)) or 0


def test_receipt_goes_to_quarantine_and_inspection_releases_it(world: World) -> None:
    moves = ledger.receive(world.clerk, world.quarantine, world.thermometer, "T2401", 50,
                           supplier=world.supplier, document="GR-1",
                           expiry=date(2030, 1, 31), production_date=date(2025, 1, 15),
                           instance_id="inst-7", task_id="task-receive")
    lot = ledger.get_lot(world.thermometer, "T2401")
    ledger.transfer(world.inspector, "status_change", lot, 45,
                    source=place(world.quarantine, "quarantine"), target=place(world.stock),
                    reason="Inspection passed", instance_id="inst-7", task_id="task-inspect")
    ledger.transfer(world.inspector, "status_change", lot, 5,
                    source=place(world.quarantine, "quarantine"),
                    target=place(world.nonconforming, "nonconforming"), reason="Dented boxes")
    db.session.commit()

    assert quantity(world, world.quarantine, "quarantine", lot) == 0
    assert quantity(world, world.stock, "available", lot) == 45
    assert quantity(world, world.nonconforming, "nonconforming", lot) == 5
    assert lot.supplier_id == world.supplier.id and lot.expiry_date == date(2030, 1, 31)
    receipt = moves[0]
    assert (receipt.kind, receipt.quantity, receipt.party_id, receipt.document) == (
        "receive", 50, world.supplier.id, "GR-1")
    assert (receipt.instance_id, receipt.task_id) == ("inst-7", "task-receive")
    assert receipt.actor_name == "Li Ming 李明" and receipt.at.tzinfo is not None
    assert kinds(lot) == ["receive", "status_change", "status_change"]
    actions = db.session.scalars(select(AuditEvent.action).where(
        AuditEvent.entity_type == "stock_movement").order_by(AuditEvent.seq)).all()
    assert actions == ["stock.receive", "stock.status_change", "stock.status_change"]
    assert audit.verify().ok
    assert integrity.verify_balances().ok


def test_taking_more_than_is_there_is_refused_and_changes_nothing(world: World) -> None:
    lot = world.receive_available("T1", 10)
    db.session.commit()
    before = db.session.scalar(select(func.count()).select_from(StockMovement))
    with pytest.raises(InvalidInput, match="only 10 there") as refused:
        ledger.transfer(world.operator, "move", lot, 11, source=place(world.stock),
                        target=place(world.stock2))
    assert "该处仅有 10" in refused.value.text("zh")  # said to a Chinese reader in Chinese
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(StockMovement)) == before
    assert quantity(world, world.stock, "available", lot) == 10


def test_the_database_refuses_a_negative_balance(world: World) -> None:
    world.receive_available("T1", 3)
    db.session.commit()
    with pytest.raises(DBAPIError):
        db.session.execute(text("UPDATE stock_balance SET quantity = -1 WHERE quantity = 3"))
    db.session.rollback()


def test_movements_are_append_only_on_postgresql(world: World, stack) -> None:  # type: ignore[no-untyped-def]
    if stack.backend != "production":
        pytest.skip("the append-only trigger is a PostgreSQL feature")
    world.receive_available("T1", 3)
    db.session.commit()
    for statement in ("UPDATE stock_movement SET quantity = 99",
                      "DELETE FROM stock_movement"):
        with pytest.raises(DBAPIError, match="append-only"):
            db.session.execute(text(statement))
        db.session.rollback()


def test_a_reversal_restores_balances_and_keeps_the_original(world: World) -> None:
    lot = world.receive_available("T1", 20)
    wrong = ledger.transfer(world.operator, "move", lot, 8, source=place(world.stock),
                            target=place(world.stock2))
    db.session.commit()
    assert quantity(world, world.stock2, "available", lot) == 8

    with pytest.raises(PermissionDenied):
        ledger.reverse(world.operator, wrong, "wrong shelf")
    with pytest.raises(InvalidInput, match="why"):
        ledger.reverse(world.qm, wrong, " ")
    correction = ledger.reverse(world.qm, wrong, "Scanned the wrong shelf")
    db.session.commit()

    assert quantity(world, world.stock, "available", lot) == 20
    assert quantity(world, world.stock2, "available", lot) == 0
    assert correction.reverses_id == wrong.id and correction.kind == "reversal"
    assert (correction.from_location_id, correction.to_location_id) == (
        wrong.to_location_id, wrong.from_location_id)
    assert db.session.get(StockMovement, wrong.id).quantity == 8  # the original is untouched
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "stock.reversal"))
    assert event is not None and event.reason == "Scanned the wrong shelf"
    with pytest.raises(Conflict, match="already reversed"):
        ledger.reverse(world.qm, wrong, "again")
    with pytest.raises(InvalidInput, match="not reversed"):
        ledger.reverse(world.qm, correction, "undo the undo")
    assert integrity.verify_balances().ok


def test_reversing_a_shipment_brings_the_serial_back(world: World) -> None:
    lot = world.receive_available("HA1", product=world.implant, location=world.cold,
                                  serials=("S1", "S2"))
    shipment = ledger.ship(world.operator, lot, 1, serial="S1", source=place(world.cold),
                           customer=world.hospital, document="SO-1")
    db.session.commit()
    assert ledger.serial_unit(world.implant, "S1").status == "shipped"
    ledger.reverse(world.qm, shipment, "Shipped the wrong unit; never left the dock")
    db.session.commit()
    unit = ledger.serial_unit(world.implant, "S1")
    assert (unit.location_id, unit.status) == (world.cold.id, "available")
    assert integrity.verify_balances().ok


def test_a_reversal_that_would_go_negative_is_refused(world: World) -> None:
    moves = ledger.receive(world.clerk, world.quarantine, world.thermometer, "T1", 10,
                           supplier=world.supplier, document="GR-1", expiry=None)
    lot = ledger.get_lot(world.thermometer, "T1")
    ledger.transfer(world.inspector, "status_change", lot, 10,
                    source=place(world.quarantine, "quarantine"), target=place(world.stock))
    db.session.commit()
    with pytest.raises(InvalidInput, match="only 0 there"):
        ledger.reverse(world.qm, moves[0], "receipt was a duplicate")


def test_a_serial_is_in_one_place_at_a_time(world: World) -> None:
    lot = world.receive_available("HA1", product=world.implant, location=world.cold,
                                  serials=("S1", "S2", "S3"))
    db.session.commit()
    with pytest.raises(Conflict, match="already in stock"):
        ledger.receive(world.clerk, world.cold_quarantine, world.implant, "HA1",
                       supplier=world.supplier, document="GR-2",
                       expiry=lot.expiry_date, serials=["S2"])
    db.session.rollback()
    with pytest.raises(Conflict, match="not at"):
        ledger.transfer(world.operator, "move", lot, 1, serial="S3",
                        source=place(world.stock), target=place(world.stock2))
    db.session.rollback()
    with pytest.raises(InvalidInput, match="must be 1"):
        ledger.transfer(world.operator, "move", lot, 2, serial="S3", source=place(world.cold),
                        target=place(world.stock2))
    with pytest.raises(InvalidInput, match="serialised"):
        ledger.transfer(world.operator, "move", lot, 1, source=place(world.cold),
                        target=place(world.stock2))
    db.session.rollback()
    # The database has the last word: a second on-hand row for S1 is refused.
    with pytest.raises(DBAPIError):
        db.session.execute(text(
            "INSERT INTO stock_balance (location_id, product_id, lot_id, serial, status, "
            "quantity) VALUES (:loc, :p, :lot, 'S1', 'available', 1)"),
            {"loc": world.stock2.id, "p": world.implant.id, "lot": lot.id})
    db.session.rollback()
    units = db.session.scalars(select(SerialUnit).order_by(SerialUnit.serial)).all()
    assert [(u.serial, u.location_id, u.status) for u in units] == [
        ("S1", world.cold.id, "available"), ("S2", world.cold.id, "available"),
        ("S3", world.cold.id, "available")]


def test_zones_keep_sellable_and_nonconforming_stock_apart(world: World) -> None:
    lot = world.receive_available("T1", 10)
    with pytest.raises(InvalidInput, match="nonconforming zone"):
        ledger.transfer(world.qm, "status_change", lot, 1, source=place(world.stock),
                        target=place(world.stock, "nonconforming"))
    with pytest.raises(InvalidInput, match="available or shipping zone"):
        ledger.transfer(world.operator, "move", lot, 1, source=place(world.stock),
                        target=place(world.quarantine))
    with pytest.raises(InvalidInput, match="cannot go from"):
        ledger.transfer(world.operator, "move", lot, 1, source=place(world.stock),
                        target=place(world.stock2, "quarantine"))
    with pytest.raises(InvalidInput, match="Unknown stock status 'lost'"):
        ledger.transfer(world.qm, "status_change", lot, 1, source=place(world.stock),
                        target=place(world.stock2, "lost"))


def test_who_may_post_what(world: World) -> None:
    with pytest.raises(PermissionDenied, match=r"ledger\.receive"):
        ledger.receive(world.inspector, world.quarantine, world.thermometer, "T1", 1,
                       supplier=world.supplier, document="GR", expiry=None)
    lot = world.receive_available("T1", 10)
    world.receive_available("T2", 10, location=world.stock2)
    with pytest.raises(PermissionDenied, match=r"ledger\.move"):
        ledger.transfer(world.clerk, "move", lot, 1, source=place(world.stock),
                        target=place(world.stock2))
    with pytest.raises(PermissionDenied, match=r"ledger\.release"):  # only QA releases from red
        ledger.transfer(world.inspector, "status_change", lot, 1,
                        source=place(world.stock), target=place(world.nonconforming,
                                                                "nonconforming"))


def test_locked_and_expired_lots_cannot_go_out(world: World) -> None:
    locked = world.receive_available("T1", 10)
    expired = world.receive_available("T0", 10, expiry=date.today() - timedelta(days=3))
    ledger.lock_lot(world.qm, locked, "Quality doubt: customer complaint QC-12")
    db.session.commit()
    with pytest.raises(InvalidInput, match="locked from outbound"):
        ledger.ship(world.operator, locked, 1, source=place(world.stock),
                    customer=world.hospital, document="SO-1")
    with pytest.raises(InvalidInput, match="expired"):
        ledger.transfer(world.operator, "pick", expired, 1, source=place(world.stock),
                        target=place(world.shipping, "picked"))
    ledger.unlock_lot(world.qm, locked, "Complaint not confirmed")
    ledger.ship(world.operator, locked, 1, source=place(world.stock), customer=world.hospital,
                document="SO-1")
    db.session.commit()
    assert quantity(world, world.stock, "available", locked) == 9


def test_returns_come_back_to_quarantine_up_to_what_was_shipped(world: World) -> None:
    lot = world.receive_available("T1", 10)
    ledger.ship(world.operator, lot, 6, source=place(world.stock), customer=world.hospital,
                document="SO-1")
    db.session.commit()
    with pytest.raises(InvalidInput, match="has 0 of lot T1"):
        ledger.return_goods(world.clerk, lot, 1, target=place(world.returns, "quarantine"),
                            customer=world.clinic, document="RMA-1", reason="wrong size")
    with pytest.raises(InvalidInput, match="7 cannot come back"):
        ledger.return_goods(world.clerk, lot, 7, target=place(world.returns, "quarantine"),
                            customer=world.hospital, document="RMA-1", reason="over-ordered")
    with pytest.raises(InvalidInput, match="quarantine until"):
        ledger.return_goods(world.clerk, lot, 1, target=place(world.stock),
                            customer=world.hospital, document="RMA-1", reason="over-ordered")
    ledger.return_goods(world.clerk, lot, 4, target=place(world.returns, "quarantine"),
                        customer=world.hospital, document="RMA-1", reason="over-ordered")
    db.session.commit()
    assert ledger.shipped_to(world.hospital, lot) == 2
    assert quantity(world, world.returns, "quarantine", lot) == 4


def test_scrap_needs_a_quality_decision_first(world: World) -> None:
    lot = world.receive_available("T1", 10)
    with pytest.raises(InvalidInput, match="nonconforming first"):
        ledger.scrap(world.qm, lot, 1, source=place(world.stock), reason="broken")
    ledger.transfer(world.qm, "status_change", lot, 2, source=place(world.stock),
                    target=place(world.nonconforming, "nonconforming"), reason="Broken display")
    ledger.scrap(world.qm, lot, 2, source=place(world.nonconforming, "nonconforming"),
                 reason="Destroyed, certificate D-7")
    db.session.commit()
    assert quantity(world, world.nonconforming, "nonconforming", lot) == 0
    assert integrity.verify_balances().ok


def test_recall_hold_puts_every_site_on_hold_and_release_restores(world: World) -> None:
    lot = world.receive_available("T1", 10)
    ledger.transfer(world.operator, "move", lot, 4, source=place(world.stock),
                    target=place(world.chicago_stock))
    ledger.receive(world.clerk, world.quarantine, world.thermometer, "T1", 5,
                   supplier=world.supplier, document="GR-2", expiry=lot.expiry_date)
    held = ledger.hold_lot(world.qm, lot, "FSN-2026-07", document="RC-1",
                           instance_id="recall-1")
    db.session.commit()
    assert {(m.from_location_id, m.quantity) for m in held} == {
        (world.stock.id, 6), (world.chicago_stock.id, 4), (world.quarantine.id, 5)}
    assert ledger.on_hand(world.thermometer, lot=lot, status="recalled") == 15
    with pytest.raises(InvalidInput, match="Only available stock"):
        ledger.ship(world.operator, lot, 1, source=place(world.stock, "recalled"),
                    customer=world.hospital, document="SO-1")
    ledger.release_lot(world.qm, lot, "Recall closed: lot not affected", document="RC-1")
    db.session.commit()
    assert quantity(world, world.stock, "available", lot) == 6
    assert quantity(world, world.chicago_stock, "available", lot) == 4
    assert quantity(world, world.quarantine, "quarantine", lot) == 5
    assert integrity.verify_balances().ok


def test_a_lot_keeps_its_expiry(world: World) -> None:
    world.receive_available("T1", 10, expiry=date(2030, 5, 31))
    with pytest.raises(InvalidInput, match="recorded with expiry 2030-05-31"):
        ledger.receive(world.clerk, world.quarantine, world.thermometer, "T1", 5,
                       supplier=world.supplier, document="GR-2", expiry=date(2030, 6, 30))


def test_receiving_from_a_scan(world: World) -> None:
    scan = "]d2\x1d01069012340000161728063010HA2409A\x1d21QY000123"
    moves = ledger.receive_scan(world.clerk, world.cold_quarantine, scan, supplier=world.supplier,
                                document="GR-9", expected=world.implant)
    db.session.commit()
    lot = ledger.get_lot(world.implant, "HA2409A")
    assert lot.expiry_date == date(2028, 6, 30)
    assert [m.serial for m in moves] == ["QY000123"]
    with pytest.raises(InvalidInput, match="not the expected product"):
        ledger.receive_scan(world.clerk, world.quarantine, scan, supplier=world.supplier,
                            document="GR-9", expected=world.thermometer)


def test_every_posting_is_announced_to_plugins(world: World) -> None:
    seen: list[tuple[str, int]] = []

    def listener(kind: str, movement: StockMovement) -> None:
        seen.append((kind, movement.quantity))

    with signals.movement_posted.connected_to(listener):
        world.receive_available("T1", 7)
    assert seen == [("receive", 7), ("status_change", 7)]
