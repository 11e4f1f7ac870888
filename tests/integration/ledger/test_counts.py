"""Stock counts (盘点): the sheet freezes its location, variances post as signed adjustments."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from engine import signatures
from engine.audit import AuditEvent
from engine.db import db
from engine.errors import Conflict, InvalidInput, NotAuthenticated
from engine.ledger import counts, integrity
from engine.ledger import service as ledger
from tests.integration.ledger.world import World, place
from tests.support.factories import PASSWORD


def test_a_count_posts_its_variances_with_reason_and_signature(world: World) -> None:
    short = world.receive_available("T1", 10)
    exact = world.receive_available("T2", 5)
    found = world.receive_available("T3", 4, location=world.stock2)
    world.receive_available("HA1", product=world.implant, location=world.stock,
                            serials=("S1", "S2"))
    implant_lot = ledger.get_lot(world.implant, "HA1")
    db.session.commit()

    sheet = counts.open_count(world.operator, world.stock)
    db.session.commit()
    assert sheet.number.startswith("CS-SH-")
    assert sorted((ln.lot.lot_no, ln.serial, ln.expected) for ln in sheet.lines) == [
        ("HA1", "S1", 1), ("HA1", "S2", 1), ("T1", "", 10), ("T2", "", 5)]
    counts.record_count(world.operator, sheet, short, 8, note="2 missing from open case")
    counts.record_count(world.operator, sheet, exact, 5)
    counts.record_count(world.operator, sheet, found, 3, note="found behind the rack")
    counts.record_count(world.operator, sheet, implant_lot, 1, serial="S1")
    with pytest.raises(InvalidInput, match="not counted yet"):
        counts.post_count(world.operator, sheet, "Annual count", password=PASSWORD,
                          username="operator")
    counts.record_count(world.operator, sheet, implant_lot, 0, serial="S2")
    db.session.commit()
    with pytest.raises(NotAuthenticated):
        counts.post_count(world.operator, sheet, "Annual count", password="wrong-pass-1",
                          username="operator")
    db.session.rollback()

    posted = counts.post_count(world.operator, sheet, "Annual count 2026",
                               password=PASSWORD, username="operator")
    db.session.commit()
    assert sorted((m.lot_id, m.serial, m.quantity, m.from_location_id is None)
                  for m in posted) == sorted([
        (short.id, "", 2, False), (found.id, "", 3, True), (implant_lot.id, "S2", 1, False)])
    assert all(m.kind == "count_adjust" and m.document == sheet.number
               and m.reason == "Annual count 2026" for m in posted)
    assert sheet.status == "posted" and sheet.signature_id is not None
    [signature] = signatures.signatures_of("count_sheet", sheet.id)
    assert signature.meaning == "approved"
    assert ledger.on_hand(world.thermometer, lot=short) == 8
    assert ledger.on_hand(world.thermometer, lot=found) == 7  # 4 on A-02 + 3 found on A-01
    assert ledger.serial_unit(world.implant, "S2").status == "missing"
    assert db.session.scalar(select(AuditEvent.reason)
                             .where(AuditEvent.action == "count.post")) == "Annual count 2026"
    assert integrity.verify_balances().ok


def test_a_counted_location_is_frozen(world: World) -> None:
    lot = world.receive_available("T1", 10)
    sheet = counts.open_count(world.operator, world.stock)
    db.session.commit()
    with pytest.raises(Conflict, match="being counted"):
        ledger.transfer(world.operator, "move", lot, 1, source=place(world.stock),
                        target=place(world.stock2))
    with pytest.raises(Conflict, match="already has an open count"):
        counts.open_count(world.operator, world.stock)
    counts.cancel_count(world.operator, sheet, "Started by mistake")
    ledger.transfer(world.operator, "move", lot, 1, source=place(world.stock),
                    target=place(world.stock2))
    db.session.commit()
    with pytest.raises(Conflict, match="cancelled"):
        counts.record_count(world.operator, sheet, lot, 1)


def test_adjustments_only_come_from_an_open_sheet(world: World) -> None:
    lot = world.receive_available("T1", 10)
    sheet = counts.open_count(world.operator, world.stock)
    counts.cancel_count(world.operator, sheet, "Wrong location")
    db.session.commit()
    with pytest.raises(InvalidInput, match="open count sheet"):
        ledger.adjust(world.operator, lot, -1, place=place(world.stock), reason="lost",
                      count_sheet=sheet)
    other = counts.open_count(world.operator, world.stock2)
    with pytest.raises(InvalidInput, match="open count sheet of the location"):
        ledger.adjust(world.operator, lot, -1, place=place(world.stock), reason="lost",
                      count_sheet=other)
    assert integrity.verify_balances().ok
