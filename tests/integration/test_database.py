"""Times are stored in UTC and always come back with their zone, on both backends."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone

import pytest
from flask import Flask
from sqlalchemy import Column, Integer, MetaData, Table, insert, select
from sqlalchemy.exc import StatementError

from engine.db import UTCDateTime, db

stamps = Table(
    "test_stamps", MetaData(), Column("id", Integer, primary_key=True), Column("at", UTCDateTime())
)


@pytest.fixture
def stamp_table(ctx: Flask) -> Iterator[Table]:
    stamps.create(db.engine, checkfirst=True)
    yield stamps
    db.session.rollback()
    stamps.drop(db.engine)


def test_aware_times_round_trip_as_utc(stamp_table: Table) -> None:
    shanghai = timezone(timedelta(hours=8))
    written = datetime(2026, 3, 1, 9, 30, tzinfo=shanghai)
    db.session.execute(insert(stamp_table).values(id=1, at=written))
    read = db.session.execute(select(stamp_table.c.at)).scalar_one()
    assert read == written
    assert read.tzinfo is not None and read.utcoffset() == timedelta(0)
    assert read.hour == 1


def test_naive_times_are_refused(stamp_table: Table) -> None:
    with pytest.raises(StatementError, match="without a time zone"):
        db.session.execute(insert(stamp_table).values(id=2, at=datetime(2026, 3, 1, 9, 30)))
    db.session.rollback()
    assert datetime.now(UTC).tzinfo is UTC


@pytest.mark.production
def test_saved_workflows_are_compressed_with_lz4_on_postgresql(ctx: Flask) -> None:
    from sqlalchemy import text

    try:
        with db.session.begin_nested():
            db.session.execute(text("SET LOCAL default_toast_compression = 'lz4'"))
    except Exception:  # a server built without LZ4 keeps pglz (migration 0008)
        pytest.skip("this PostgreSQL has no LZ4")
    method = db.session.scalar(text(
        "SELECT attcompression FROM pg_attribute "
        "WHERE attrelid = 'process_instance'::regclass AND attname = 'serialized'"))
    assert method == "l"


@pytest.mark.production
def test_a_pooled_connection_that_died_is_replaced(ctx: Flask) -> None:
    """The server drops the pool's connection (a restart, a network cut) while it sleeps in
    the pool: the next transaction gets a new one instead of an error (`_drop_if_closed`)."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.pool import NullPool

    backend = db.session.scalar(text("SELECT pg_backend_pid()"))
    db.session.commit()  # back to the pool
    admin = create_engine(db.engine.url, poolclass=NullPool)
    with admin.connect() as other:
        # wait until it is gone (5 s at most), as it would be long before a restart's next request
        other.execute(text("SELECT pg_terminate_backend(:pid, 5000)"), {"pid": backend})
        other.commit()
    admin.dispose()
    assert db.session.scalar(text("SELECT pg_backend_pid()")) != backend
    db.session.commit()
