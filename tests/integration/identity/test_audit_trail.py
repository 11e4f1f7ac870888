"""The audit trail: chained on commit, nothing left by a rollback, tampering found or refused."""

from __future__ import annotations

import itertools
import subprocess
import sys
import textwrap

import pytest
from flask import Flask
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError

from engine import audit
from engine.audit import AuditEvent
from engine.db import db
from engine.errors import InvalidInput
from tests.support.backends import Stack


def write_events(n: int, prefix: str = "thing") -> None:
    for i in range(n):
        audit.record(audit.SYSTEM, "thing.create", prefix, i, after={"n": i, "名": "批号"})
    db.session.commit()


def test_events_are_chained_in_order(ctx: Flask) -> None:
    write_events(5)
    events = db.session.scalars(select(AuditEvent).order_by(AuditEvent.seq)).all()
    assert [e.seq for e in events] == [1, 2, 3, 4, 5]
    assert events[0].prev_hash == audit.GENESIS
    assert all(b.prev_hash == a.hash for a, b in itertools.pairwise(events))
    assert events[0].after_values == {"n": 0, "名": "批号"}
    assert events[0].at.tzinfo is not None
    result = audit.verify()
    assert result.ok and result.checked == 5


def test_small_and_large_batches_chain_alike(ctx: Flask) -> None:
    """A step's few events (chained by PostgreSQL in one statement there) and a batch too
    large for that (chained in Python) make one chain."""
    write_events(3)
    write_events(audit.CHAINED_BY_POSTGRESQL + 5, "batch")
    write_events(1, "after")
    events = db.session.scalars(select(AuditEvent).order_by(AuditEvent.seq)).all()
    assert [e.seq for e in events] == list(range(1, audit.CHAINED_BY_POSTGRESQL + 10))
    assert all(b.prev_hash == a.hash for a, b in itertools.pairwise(events))
    assert all(e.hash == audit.event_hash(e.seq, e.at, e.actor_id, e.actor_name, e.action,
                                          e.entity_type, e.entity_id, e.before, e.after,
                                          e.reason, e.prev_hash) for e in events)
    assert audit.verify().ok


def test_a_rolled_back_transaction_leaves_no_event(ctx: Flask) -> None:
    write_events(2)
    audit.record(audit.SYSTEM, "thing.create", "thing", 99)
    db.session.rollback()
    write_events(1, "other")
    assert db.session.scalar(select(func.count()).select_from(AuditEvent)) == 3
    assert audit.verify().ok


def test_modifications_need_a_reason(ctx: Flask) -> None:
    with pytest.raises(InvalidInput) as refused:
        audit.record(audit.SYSTEM, "thing.update", "thing", 1, reason=" ", reason_required=True)
    assert "reason" in refused.value.fields


def test_sqlite_tampering_is_found_by_verify(ctx: Flask, stack: Stack) -> None:
    if stack.backend != "embedded":
        pytest.skip("on PostgreSQL the table refuses the update itself")
    write_events(10)
    db.session.execute(text("UPDATE audit_event SET after = :v WHERE seq = 4"), {"v": '{"n":9}'})
    db.session.commit()
    result = audit.verify()
    assert not result.ok
    assert result.broken_seq == 4
    assert "content was changed" in result.reason


def test_sqlite_deleted_event_is_found_by_verify(ctx: Flask, stack: Stack) -> None:
    if stack.backend != "embedded":
        pytest.skip("on PostgreSQL the table refuses the delete itself")
    write_events(6)
    db.session.execute(text("DELETE FROM audit_event WHERE seq = 6"))
    db.session.commit()
    result = audit.verify()
    assert not result.ok and result.broken_seq == 6


@pytest.mark.production
@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audit_event SET reason = 'edited' WHERE seq = 2",
        "DELETE FROM audit_event WHERE seq = 2",
        "TRUNCATE audit_event",
    ],
)
def test_postgres_refuses_update_delete_and_truncate(ctx: Flask, statement: str) -> None:
    write_events(3)
    with pytest.raises(DBAPIError, match="append-only"):
        db.session.execute(text(statement))
    db.session.rollback()
    assert audit.verify().ok


@pytest.mark.production
def test_concurrent_appends_from_several_processes_keep_one_chain(ctx: Flask, stack: Stack) -> None:
    script = textwrap.dedent(
        """
        import sys
        from engine import audit
        from engine.db import db
        from web import create_app
        app = create_app()
        with app.app_context():
            for i in range(40):
                audit.record(audit.SYSTEM, "race", "proc" + sys.argv[1], i)
                audit.record(audit.SYSTEM, "race", "proc" + sys.argv[1], i, after={"i": i})
                db.session.commit()
        """
    )
    procs = [
        subprocess.Popen([sys.executable, "-c", script, str(n)], env=stack.environ())
        for n in range(4)
    ]
    assert [p.wait(timeout=120) for p in procs] == [0, 0, 0, 0]
    assert db.session.scalar(select(func.count()).select_from(AuditEvent)) == 4 * 40 * 2
    result = audit.verify()
    assert result.ok, result.summary()
    assert result.checked == 320
