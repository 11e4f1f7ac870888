"""First expiry, first out: the picker is sent to the lot that expires first and may be sold."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from engine.db import db
from engine.errors import InvalidInput
from engine.ledger import service as ledger
from tests.integration.ledger.world import World, place

TODAY = date.today()


def test_fefo_takes_the_first_expiry_across_shelves(world: World) -> None:
    later = world.receive_available("L-LATE", 10, expiry=TODAY + timedelta(days=400))
    first = world.receive_available("L-FIRST", 4, expiry=TODAY + timedelta(days=30),
                                    location=world.stock2)
    second = world.receive_available("L-SECOND", 5, expiry=TODAY + timedelta(days=90))
    no_expiry = world.receive_available("L-NONE", 50, expiry=None)
    db.session.commit()

    plan = ledger.allocate_fefo(world.thermometer, 12, site=world.shanghai)
    assert [(a.lot.lot_no, a.location.code, a.quantity) for a in plan] == [
        ("L-FIRST", "A-02", 4), ("L-SECOND", "A-01", 5), ("L-LATE", "A-01", 3)]
    assert later.id and first.id and second.id
    everything = ledger.allocate_fefo(world.thermometer, 69, site=world.shanghai)
    assert everything[-1].lot.id == no_expiry.id  # no expiry date goes last


def test_fefo_skips_locked_quarantined_expired_and_other_sites(world: World) -> None:
    world.receive_available("EXPIRED", 5, expiry=TODAY - timedelta(days=2))
    locked = world.receive_available("LOCKED", 5, expiry=TODAY + timedelta(days=10))
    ledger.receive(world.clerk, world.quarantine, world.thermometer, "QUARANTINE", 5,
                   supplier=world.supplier, document="GR-Q", expiry=TODAY + timedelta(days=11))
    world.receive_available("CHICAGO", 5, expiry=TODAY + timedelta(days=12),
                            location=world.chicago_stock)
    nonconforming = world.receive_available("RED", 5, expiry=TODAY + timedelta(days=13))
    ledger.transfer(world.qm, "status_change", nonconforming, 5, source=place(world.stock),
                    target=place(world.nonconforming, "nonconforming"), reason="damaged")
    good = world.receive_available("GOOD", 5, expiry=TODAY + timedelta(days=300))
    ledger.lock_lot(world.qm, locked, "Quality doubt")
    db.session.commit()

    plan = ledger.allocate_fefo(world.thermometer, 5, site=world.shanghai)
    assert [(a.lot.id, a.quantity) for a in plan] == [(good.id, 5)]
    with pytest.raises(InvalidInput, match="Only 5 of THERMO can be allocated"):
        ledger.allocate_fefo(world.thermometer, 6, site=world.shanghai)
    chicago = ledger.allocate_fefo(world.thermometer, 5, site=world.chicago)
    assert [a.lot.lot_no for a in chicago] == ["CHICAGO"]


def test_fefo_honours_a_minimum_remaining_shelf_life(world: World) -> None:
    world.receive_available("SHORT", 5, expiry=TODAY + timedelta(days=20))
    world.receive_available("LONG", 5, expiry=TODAY + timedelta(days=200))
    db.session.commit()
    plan = ledger.allocate_fefo(world.thermometer, 5, site=world.shanghai,
                                not_expiring_before=TODAY + timedelta(days=90))
    assert [a.lot.lot_no for a in plan] == ["LONG"]


def test_pick_fefo_posts_picks_to_the_dispatch_area(world: World) -> None:
    world.receive_available("B", 10, expiry=TODAY + timedelta(days=200))
    world.receive_available("A", 3, expiry=TODAY + timedelta(days=100))
    picks = ledger.pick_fefo(world.operator, world.thermometer, 5, site=world.shanghai,
                             to=world.shipping, document="SO-77", instance_id="out-1",
                             task_id="pick")
    db.session.commit()
    assert [(m.kind, m.quantity, m.document, m.instance_id) for m in picks] == [
        ("pick", 3, "SO-77", "out-1"), ("pick", 2, "SO-77", "out-1")]
    assert ledger.on_hand(world.thermometer, site=world.shanghai) == 13
    assert sum(b.quantity for b in ledger.balances(location=world.shipping)) == 5
