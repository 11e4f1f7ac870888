"""Many clerks at once on PostgreSQL: real threads, each with its own connection and
transaction, posting against the same balances and serials at the same moment."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select

from engine.db import db
from engine.errors import GxpError
from engine.identity.models import User
from engine.ledger import integrity
from engine.ledger import service as ledger
from engine.ledger.models import Lot, SerialUnit, StockBalance, StockMovement
from engine.masterdata.models import Location, Party, Product
from tests.integration.ledger.world import World

pytestmark = pytest.mark.production

THREADS = 12


def race(app: Flask, work: Callable[[int], None], n: int = THREADS) -> Counter[str]:
    """Run `work(i)` in `n` threads released together; each commits or rolls back.
    Returns how many committed ("ok") and how many were refused, by error class."""
    barrier = threading.Barrier(n)
    outcomes: Counter[str] = Counter()
    lock = threading.Lock()

    def run(i: int) -> None:
        with app.app_context():
            try:
                barrier.wait(timeout=30)
                work(i)
                db.session.commit()
                outcome = "ok"
            except GxpError as refused:
                db.session.rollback()
                outcome = type(refused).__name__
            except Exception as exc:  # anything else is a failure of the test
                db.session.rollback()
                outcome = f"unexpected {type(exc).__name__}: {str(exc).splitlines()[0]}"
            finally:
                db.session.remove()
        with lock:
            outcomes[outcome] += 1

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return outcomes


def get(model: type, ident: int) -> Any:
    row = db.session.get(model, ident)
    assert row is not None
    return row


def test_concurrent_shipments_never_overdraw_a_balance(ctx: Flask, world: World) -> None:
    lot = world.receive_available("T1", 5)
    db.session.commit()
    ids = (lot.id, world.stock.id, world.hospital.id, world.operator.id)

    def ship(i: int) -> None:
        lot_id, location_id, customer_id, user_id = ids
        ledger.ship(get(User, user_id), get(Lot, lot_id), 1,
                    source=ledger.Place(get(Location, location_id), "available"),
                    customer=get(Party, customer_id), document=f"SO-{i}")

    outcomes = race(ctx, ship)
    assert outcomes == Counter({"ok": 5, "InvalidInput": THREADS - 5})
    db.session.expire_all()
    assert db.session.scalar(select(StockBalance.quantity).where(
        StockBalance.location_id == world.stock.id, StockBalance.lot_id == lot.id)) == 0
    assert db.session.scalar(select(func.count()).select_from(StockMovement)
                             .where(StockMovement.kind == "ship")) == 5
    assert integrity.verify_balances().ok


def test_concurrent_moves_of_one_quantity_all_balance(ctx: Flask, world: World) -> None:
    """Moves in both directions between two shelves at once: no deadlock, nothing lost."""
    lot = world.receive_available("T1", 30)
    world.receive_available("T1", 30, location=world.stock2)
    db.session.commit()
    ids = (lot.id, world.stock.id, world.stock2.id, world.operator.id)

    def move(i: int) -> None:
        lot_id, a, b, user_id = ids
        source, target = (a, b) if i % 2 else (b, a)
        ledger.transfer(get(User, user_id), "move", get(Lot, lot_id), 3,
                        source=ledger.Place(get(Location, source), "available"),
                        target=ledger.Place(get(Location, target), "available"))

    outcomes = race(ctx, move)
    assert outcomes == Counter({"ok": THREADS})
    db.session.expire_all()
    assert ledger.on_hand(world.thermometer, lot=lot) == 60
    assert integrity.verify_balances().ok


def test_the_same_serial_received_at_once_lands_in_one_place(ctx: Flask, world: World) -> None:
    docks = [world.quarantine.id, world.cold_quarantine.id, world.returns.id,
             world.chicago_quarantine.id]
    expiry = world.receive_available("HA1", product=world.implant, location=world.cold,
                                     serials=("S0",)).expiry_date
    db.session.commit()
    ids = (world.implant.id, world.supplier.id, world.clerk.id)

    def receive(i: int) -> None:
        product_id, supplier_id, user_id = ids
        ledger.receive(get(User, user_id), get(Location, docks[i % len(docks)]),
                       get(Product, product_id), "HA1", supplier=get(Party, supplier_id),
                       document=f"GR-{i}", expiry=expiry, serials=["S-DUP"])

    outcomes = race(ctx, receive)
    assert outcomes["ok"] == 1, outcomes
    assert outcomes["Conflict"] == THREADS - 1, outcomes
    db.session.expire_all()
    rows = db.session.scalars(select(StockBalance).where(StockBalance.serial == "S-DUP",
                                                         StockBalance.quantity > 0)).all()
    assert len(rows) == 1
    unit = db.session.scalar(select(SerialUnit).where(SerialUnit.serial == "S-DUP"))
    assert unit is not None and unit.location_id == rows[0].location_id
    assert integrity.verify_balances().ok


def test_one_serial_moved_to_many_places_at_once_moves_once(ctx: Flask, world: World) -> None:
    lot = world.receive_available("HA1", product=world.implant, location=world.cold,
                                  serials=("S1",))
    db.session.commit()
    targets = [world.stock.id, world.stock2.id, world.shipping.id]
    ids = (lot.id, world.cold.id, world.operator.id)

    def move(i: int) -> None:
        lot_id, cold_id, user_id = ids
        ledger.transfer(get(User, user_id), "move", get(Lot, lot_id), 1, serial="S1",
                        source=ledger.Place(get(Location, cold_id), "available"),
                        target=ledger.Place(get(Location, targets[i % 3]), "available"))

    outcomes = race(ctx, move)
    assert outcomes == Counter({"ok": 1, "Conflict": THREADS - 1})
    db.session.expire_all()
    unit = ledger.serial_unit(world.implant, "S1")
    assert unit is not None and unit.location_id in targets
    on_hand = db.session.scalars(select(StockBalance.location_id).where(
        StockBalance.serial == "S1", StockBalance.quantity > 0)).all()
    assert on_hand == [unit.location_id]
    assert integrity.verify_balances().ok


def test_a_new_lot_received_at_once_is_one_lot(ctx: Flask, world: World) -> None:
    ids = (world.thermometer.id, world.supplier.id, world.clerk.id, world.quarantine.id)

    def receive(i: int) -> None:
        product_id, supplier_id, user_id, dock = ids
        ledger.receive(get(User, user_id), get(Location, dock), get(Product, product_id),
                       "NEW-LOT", 2, supplier=get(Party, supplier_id), document=f"GR-{i}",
                       expiry=None)

    outcomes = race(ctx, receive)
    assert outcomes == Counter({"ok": THREADS})
    db.session.expire_all()
    assert db.session.scalar(select(func.count()).select_from(Lot)
                             .where(Lot.lot_no == "NEW-LOT")) == 1
    lot = ledger.get_lot(world.thermometer, "NEW-LOT")
    assert ledger.on_hand(world.thermometer, lot=lot) == 2 * THREADS
