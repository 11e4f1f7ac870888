"""Trace a lot or a serial through a multi-hop history: received in Shanghai, inspected, moved
to Chicago, shipped from both sites, returned, re-inspected, shipped again, one shipment
reversed. Backward finds the supplier and the inspections; forward finds every customer."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, text

from engine.db import db
from engine.errors import InvalidInput, NotFound
from engine.ledger import service as ledger
from engine.ledger import trace as tracing
from engine.ledger.models import Lot
from tests.integration.ledger.world import World, place

GXPFLOW = str(Path(sys.executable).with_name("gxpflow"))


def history(world: World) -> Lot:
    lot = None
    moves = ledger.receive(world.clerk, world.cold_quarantine, world.implant, "HA1",
                           supplier=world.supplier, document="GR-100", expiry=None,
                           serials=["S1", "S2", "S3", "S4"], instance_id="in-1",
                           task_id="receive")
    lot = ledger.get_lot(world.implant, "HA1")
    for serial in ("S1", "S2", "S3"):
        ledger.transfer(world.inspector, "status_change", lot, 1, serial=serial,
                        source=place(world.cold_quarantine, "quarantine"),
                        target=place(world.cold), reason="Accepted", instance_id="in-1",
                        task_id="inspect")
    ledger.transfer(world.inspector, "status_change", lot, 1, serial="S4",
                    source=place(world.cold_quarantine, "quarantine"),
                    target=place(world.nonconforming, "nonconforming"), reason="Seal broken",
                    instance_id="in-1", task_id="inspect")
    for serial in ("S2", "S3"):
        ledger.transfer(world.operator, "move", lot, 1, serial=serial, source=place(world.cold),
                        target=place(world.chicago_stock), document="TR-1")
    ledger.ship(world.operator, lot, 1, serial="S1", source=place(world.cold),
                customer=world.hospital, document="SO-1", instance_id="out-1", task_id="ship")
    ledger.ship(world.operator, lot, 1, serial="S2", source=place(world.chicago_stock),
                customer=world.clinic, document="SO-2")
    ledger.return_goods(world.clerk, lot, 1, serial="S2",
                        target=place(world.returns, "quarantine"), customer=world.clinic,
                        document="RMA-2", reason="Wrong size ordered")
    ledger.transfer(world.inspector, "status_change", lot, 1, serial="S2",
                    source=place(world.returns, "quarantine"), target=place(world.cold),
                    reason="Return inspected: intact, cold chain kept", task_id="inspect-ret")
    ledger.ship(world.operator, lot, 1, serial="S2", source=place(world.cold),
                customer=world.hospital, document="SO-3")
    mistake = ledger.ship(world.operator, lot, 1, serial="S3",
                          source=place(world.chicago_stock), customer=world.clinic,
                          document="SO-4")
    ledger.reverse(world.qm, mistake, "Booked on the wrong order")
    db.session.commit()
    assert len(moves) == 4
    return lot


def test_forward_trace_finds_every_customer_through_the_hops(world: World) -> None:
    lot = history(world)
    forward = tracing.lot_forward(lot)
    assert [(r.kind, r.serial, r.site, r.party_code, r.document, r.counts) for r in forward] == [
        ("ship", "S1", "SH", "CUS-1", "SO-1", True),
        ("ship", "S2", "CHI", "CUS-2", "SO-2", True),
        ("return", "S2", "SH", "CUS-2", "RMA-2", True),
        ("ship", "S2", "SH", "CUS-1", "SO-3", True),
        ("ship", "S3", "CHI", "CUS-2", "SO-4", False),
    ]
    assert forward[0].instance_id == "out-1" and forward[0].task_id == "ship"
    assert all(r.at.tzinfo is not None for r in forward)
    result = tracing.trace(world.implant, lot_no="HA1")
    assert result.customers == ["上海仁康医院", "Lakeshore Clinic"]
    assert result.net_shipped == 2


def test_backward_trace_finds_supplier_receipt_and_inspections(world: World) -> None:
    lot = history(world)
    backward = tracing.lot_backward(lot)
    receipts = [r for r in backward if r.kind == "receive"]
    inspections = [r for r in backward if r.kind == "status_change"]
    assert {(r.serial, r.party_code, r.document, r.location) for r in receipts} == {
        (s, "SUP-1", "GR-100", "Q-C") for s in ("S1", "S2", "S3", "S4")}
    assert [(r.serial, r.to_status, r.actor, r.task_id) for r in inspections] == [
        ("S1", "available", "Wang Fang 王芳", "inspect"),
        ("S2", "available", "Wang Fang 王芳", "inspect"),
        ("S3", "available", "Wang Fang 王芳", "inspect"),
        ("S4", "nonconforming", "Wang Fang 王芳", "inspect"),
        ("S2", "available", "Wang Fang 王芳", "inspect-ret"),
    ]
    assert tracing.trace(world.implant, lot_no="HA1").suppliers == ["上海瑞康医疗器械有限公司"]


def test_serial_trace_follows_one_unit(world: World) -> None:
    history(world)
    result = tracing.trace(world.implant, serial="S2")
    assert result.lot is not None and result.lot.lot_no == "HA1"
    assert [(r.kind, r.party_code) for r in result.forward] == [
        ("ship", "CUS-2"), ("return", "CUS-2"), ("ship", "CUS-1")]
    assert [r.task_id for r in result.backward] == ["receive", "inspect", "inspect-ret"]
    with pytest.raises(NotFound):
        tracing.trace(world.implant, serial="NOPE")
    with pytest.raises(InvalidInput):
        tracing.trace(world.implant)


def test_quantities_of_a_lot_split_between_customers(world: World) -> None:
    lot = world.receive_available("T9", 100)
    ledger.ship(world.operator, lot, 60, source=place(world.stock), customer=world.hospital,
                document="SO-1")
    ledger.ship(world.operator, lot, 25, source=place(world.stock), customer=world.clinic,
                document="SO-2")
    ledger.return_goods(world.clerk, lot, 5, target=place(world.returns, "quarantine"),
                        customer=world.hospital, document="RMA-1", reason="surplus")
    db.session.commit()
    result = tracing.trace(world.thermometer, lot_no="T9")
    assert [(r.kind, r.quantity, r.party_name) for r in result.forward] == [
        ("ship", 60, "上海仁康医院"), ("ship", 25, "Lakeshore Clinic"),
        ("return", 5, "上海仁康医院")]
    assert result.net_shipped == 80


@contextmanager
def statements() -> Iterator[list[str]]:
    seen: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen.append(statement)

    event.listen(db.engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        event.remove(db.engine, "before_cursor_execute", count)


def test_each_direction_is_one_query(world: World) -> None:
    lot = history(world)
    db.session.expire_all()
    lot = ledger.get_lot(world.implant, "HA1")
    with statements() as seen:
        tracing.lot_forward(lot)
    assert len(seen) == 1
    with statements() as seen:
        tracing.lot_backward(lot)
    assert len(seen) == 1


def test_trace_queries_have_an_index_on_postgresql(world: World, stack) -> None:  # type: ignore[no-untyped-def]
    if stack.backend != "production":
        pytest.skip("plans are checked on PostgreSQL")
    lot = history(world)
    db.session.execute(text("SET LOCAL enable_seqscan = off"))
    for query in (tracing._query(tracing.FORWARD).where(tracing.StockMovement.lot_id == lot.id),
                  tracing._query(tracing.BACKWARD).where(
                      tracing.StockMovement.product_id == world.implant.id,
                      tracing.StockMovement.serial == "S2")):
        compiled = query.compile(db.engine, compile_kwargs={"literal_binds": True})
        plan = "\n".join(db.session.execute(text(f"EXPLAIN {compiled}")).scalars())
        assert "ix_stock_movement_lot" in plan or "ix_stock_movement_serial" in plan, plan
    db.session.rollback()


def test_gxpflow_trace_prints_both_directions(world: World, stack) -> None:  # type: ignore[no-untyped-def]
    history(world)
    run = subprocess.run([GXPFLOW, "trace", "--lot", "HA1", "--product", "06901234000016"],
                         env=stack.environ(), capture_output=True, text=True, timeout=120,
                         check=False)
    assert run.returncode == 0, run.stderr
    out = run.stdout
    assert "Lot HA1" in out and "supplier SUP-1 上海瑞康医疗器械有限公司" in out
    backward, forward = out.split("Forward (")
    assert backward.count(" receive ") == 4 and "GR-100" in backward
    assert "SO-1" in forward and "RMA-2" in forward and "reversed by #" in forward
    assert "Customers: 上海仁康医院, Lakeshore Clinic" in out
    assert "Net quantity at customers: 2" in out
    assert "Z  ship" in forward  # UTC ISO times

    missing = subprocess.run([GXPFLOW, "trace", "--lot", "NOPE", "--product", "HA-GEL"],
                             env=stack.environ(), capture_output=True, text=True, timeout=120,
                             check=False)
    assert missing.returncode == 2
    assert missing.stderr.strip() == "gxpflow: HA-GEL has no lot 'NOPE' in the ledger."
