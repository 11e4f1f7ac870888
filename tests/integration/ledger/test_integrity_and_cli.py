"""`gxpflow ledger check` finds a balance that no longer equals its movements; the demo seeds a
consistent ledger; the other ledger commands work from a shell."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from sqlalchemy import func, select, text

from engine.db import db
from engine.ledger import integrity
from engine.ledger.models import StockBalance, StockMovement
from tests.integration.ledger.world import World

GXPFLOW = str(Path(sys.executable).with_name("gxpflow"))


def gxpflow(stack, *args: str) -> subprocess.CompletedProcess[str]:  # type: ignore[no-untyped-def]
    return subprocess.run([GXPFLOW, *args], env=stack.environ(), capture_output=True, text=True,
                          timeout=120, check=False)


def test_check_passes_then_finds_a_tampered_balance(world: World, stack) -> None:  # type: ignore[no-untyped-def]
    lot = world.receive_available("T1", 10)
    world.receive_available("HA1", product=world.implant, location=world.cold,
                            serials=("S1", "S2"))
    db.session.commit()
    ok = gxpflow(stack, "ledger", "check")
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.startswith("OK: 6 balances equal the sum of 6 movements")

    db.session.execute(text("UPDATE stock_balance SET quantity = 9 WHERE lot_id = :lot "
                            "AND status = 'available'"),
                       {"lot": lot.id})
    db.session.execute(text("UPDATE serial_unit SET location_id = :loc WHERE serial = 'S2'"),
                       {"loc": world.stock.id})
    db.session.commit()
    result = integrity.verify_balances()
    assert not result.ok
    assert any("movements sum to 10, balance says 9" in m for m in result.mismatches)
    assert any("'S2'" in m for m in result.mismatches)
    broken = gxpflow(stack, "ledger", "check")
    assert broken.returncode == 1
    assert "MISMATCH: 2 problem(s) found" in broken.stdout


def test_demo_seeds_stock_in_every_status_and_a_consistent_ledger(ctx, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from engine import demo
    from engine.recall import service as recalls

    # The demo recall's notices are the recall tests' subject; here no task may outlive the test.
    monkeypatch.setattr(recalls, "_dispatch_notifications", lambda recall_id: None)

    demo.seed_users()
    lines = demo.seed_masterdata() + demo.seed_stock()
    db.session.commit()
    demo.activate_rule_packs()
    lines += demo.seed_outbound_and_release()  # a Chicago order picked, waiting for its check
    db.session.commit()
    lines += demo.seed_recall()
    db.session.commit()
    assert lines[0].startswith("master data: 3 sites")
    assert lines[-1].startswith("recall: RC-")
    statuses = set(db.session.scalars(select(StockBalance.status)
                                      .where(StockBalance.quantity > 0)))
    assert statuses == {"quarantine", "available", "picked", "nonconforming", "recalled"}
    assert db.session.scalar(select(func.count()).select_from(StockMovement)
                             .where(StockMovement.kind == "ship")) >= 4
    assert integrity.verify_balances().ok
    assert demo.seed_masterdata() == ["master data: already seeded"]
    assert demo.seed_stock() == ["stock: already seeded"]
    assert demo.seed_recall() == ["recall: already seeded"]


def test_ledger_scan_and_temperature_import_commands(world: World, stack, tmp_path) -> None:  # type: ignore[no-untyped-def]
    world.receive_available("T1", 5, location=world.cold)
    db.session.commit()
    scan = gxpflow(stack, "ledger", "scan")
    assert scan.returncode == 0, scan.stderr
    assert "near expiry: 0 lot(s) newly flagged" in scan.stdout
    log = tmp_path / "cold-room.csv"
    log.write_text("recorded_at,celsius\n2030-01-01T00:00:00Z,4.5\n2030-01-01T00:15:00Z,9.0\n")
    imported = gxpflow(stack, "ledger", "import-temperatures", str(log), "--location", "SH/A-C")
    assert imported.returncode == 0, imported.stderr
    assert "imported 2 readings" in imported.stdout
    assert "1 excursion(s) flagged" in imported.stdout
    assert "location range: 1 reading(s) outside 2.0..8.0 °C" in imported.stdout
