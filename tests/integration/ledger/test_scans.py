"""The scheduled scans, run as Celery tasks: eagerly when embedded, through Redis and a real
worker process on the production stack. Each is safe to run twice."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from engine import audit
from engine.db import db
from engine.identity.models import Notification
from engine.ledger import integrity, jobs
from engine.ledger import service as ledger
from engine.ledger.models import Lot, StockBalance
from engine.masterdata import service as md
from engine.masterdata.models import Party, Product
from tests.integration.ledger.world import World

TODAY = date.today()


@pytest.fixture
def run_task(stack: Any, request: pytest.FixtureRequest) -> Callable[..., Any]:
    if stack.backend == "production":
        request.getfixturevalue("worker")

    def run(task: Any, *args: Any) -> Any:
        db.session.commit()  # the task runs in its own transaction and must see our data
        result = task.delay(*args).get(timeout=60)
        db.session.expire_all()
        return result

    return run


def held(world: World, lot: Lot) -> list[tuple[str, str, str, int]]:
    rows = db.session.scalars(select(StockBalance).where(StockBalance.lot_id == lot.id,
                                                         StockBalance.quantity > 0))
    return sorted((b.location.label, b.serial, b.status, b.quantity) for b in rows)


def test_expired_stock_is_moved_to_nonconforming_and_locked(world: World, run_task) -> None:  # type: ignore[no-untyped-def]
    expired = world.receive_available("EXP", 5, expiry=TODAY - timedelta(days=3))
    ledger.receive(world.clerk, world.quarantine, world.thermometer, "EXP", 2,
                   supplier=world.supplier, document="GR-2", expiry=expired.expiry_date)
    world.receive_available("EXP", 3, expiry=expired.expiry_date, location=world.chicago_stock)
    gel = world.receive_available("HA-OLD", product=world.implant, location=world.cold,
                                  serials=("S1",), expiry=TODAY - timedelta(days=3))
    fresh = world.receive_available("FRESH", 4, expiry=TODAY + timedelta(days=400))

    result = run_task(jobs.scan_expired)

    assert sorted(result["expired_lots"]) == [
        f"HA-GEL lot HA-OLD expired {gel.expiry_date}", f"THERMO lot EXP expired "
        f"{expired.expiry_date}"]
    assert len(result["moved"]) == 3
    assert result["problems"] == [
        "THERMO lot EXP at CHI/A-01: site CHI has no nonconforming location to move it to"]
    lot = db.session.get(Lot, expired.id)
    assert lot.locked and lot.expiry_flag == "expired" and "GSP 76" in lot.lock_reason
    assert held(world, lot) == [("CHI/A-01", "", "available", 3),
                                ("SH/NC-01", "", "nonconforming", 7)]
    assert held(world, gel) == [("SH/NC-01", "S1", "nonconforming", 1)]
    assert ledger.serial_unit(world.implant, "S1").location_id == world.nonconforming.id
    assert held(world, fresh) == [("SH/A-01", "", "available", 4)]
    assert db.session.scalar(select(Notification.subject).where(
        Notification.user_id == world.qm.id)) == "Expired stock moved to nonconforming"

    again = run_task(jobs.scan_expired)
    assert (again["expired_lots"], again["moved"]) == ([], [])
    assert integrity.verify_balances().ok


def test_near_expiry_lots_are_flagged_once(world: World, run_task) -> None:  # type: ignore[no-untyped-def]
    near = world.receive_available("NEAR", 5, expiry=TODAY + timedelta(days=30))
    far = world.receive_available("FAR", 5, expiry=TODAY + timedelta(days=400))
    md.update_product(audit.SYSTEM, world.implant, "Short-dated implants need notice",
                      near_expiry_days=30)
    gel = world.receive_available("HA", product=world.implant, location=world.cold,
                                  serials=("S1",), expiry=TODAY + timedelta(days=60))

    result = run_task(jobs.scan_near_expiry)

    days = (near.expiry_date - ledger.site_today(world.shanghai)).days
    assert result["near_expiry"] == [f"THERMO lot NEAR expires {near.expiry_date} ({days} days)"]
    assert [db.session.get(Lot, x.id).expiry_flag for x in (near, far, gel)] == [
        "near_expiry", "ok", "ok"]
    assert run_task(jobs.scan_near_expiry)["near_expiry"] == []


def test_licences_and_registrations_are_flagged(world: World, run_task) -> None:  # type: ignore[no-untyped-def]
    md.add_licence(audit.SYSTEM, world.supplier, "operating_licence", "沪械经营许20190123号",
                   expires_on=TODAY + timedelta(days=100), scope_classes="II,III")
    md.update_product(audit.SYSTEM, world.thermometer, "Certificate renewed",
                      registration_expiry=TODAY + timedelta(days=20))
    assert db.session.get(Party, world.supplier.id).licence_flag == "ok"

    result = run_task(jobs.scan_licences, (TODAY + timedelta(days=30)).isoformat())
    assert result["parties"] == [["SUP-1", "ok", "near_expiry"]]
    assert result["products"] == [["THERMO", "near_expiry", "expired"]]
    assert db.session.get(Product, world.thermometer.id).registration_flag == "expired"
    notes = db.session.scalars(select(Notification.subject)
                               .where(Notification.user_id == world.qm.id)).all()
    assert notes == ["2 licence/registration flag(s) changed"]
    again = run_task(jobs.scan_licences, (TODAY + timedelta(days=30)).isoformat())
    assert again == {"parties": [], "products": []}


def test_the_beat_schedule_runs_the_scans(app) -> None:  # type: ignore[no-untyped-def]
    schedule = app.extensions["celery"].conf.beat_schedule
    tasks = {entry["task"] for entry in schedule.values()}
    assert {"gxpflow.ledger.scan_expired", "gxpflow.ledger.scan_near_expiry",
            "gxpflow.ledger.scan_licences"} <= tasks
    assert "engine.ledger.jobs" in app.extensions["celery"].conf.imports


def test_picked_goods_that_expire_while_they_wait_are_moved_and_shown(world: World) -> None:
    from engine.ledger import expiry

    lot = world.receive_available("PICKEXP", 4, expiry=TODAY + timedelta(days=10))
    ledger.pick_fefo(world.operator, world.thermometer, 4, site=world.shanghai,
                     to=world.shipping, document="SO-9")
    db.session.commit()
    soon = expiry.scan_near_expiry(TODAY + timedelta(days=5))
    assert db.session.get(Lot, lot.id).expiry_flag == "near_expiry", soon
    later = TODAY + timedelta(days=11)
    [row] = [r for r in expiry.expiry_board(later) if r.lot.id == lot.id]
    assert (row.quantity, row.statuses) == (4, ("picked",))
    result = expiry.scan_expired(later)
    db.session.commit()
    assert result.moved and held(world, lot) == [("SH/NC-01", "", "nonconforming", 4)]
    assert integrity.verify_balances().ok
