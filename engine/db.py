"""The database handle and the column types every model uses (times are always UTC with zone)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import DateTime, MetaData, text
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.types import TypeDecorator

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


db = SQLAlchemy(model_class=Base)


def utcnow() -> datetime:
    """The server's clock in UTC; the only clock GxPFlow trusts."""
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp stored in UTC and always read back with its zone.

    Naive datetimes are refused: a time without a zone is not evidence.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError("refusing a datetime without a time zone")
        value = value.astimezone(UTC)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def one_of(column: str, values: tuple[str, ...]) -> str:
    """A CHECK constraint's text: `column` holds one of `values` (constant code names)."""
    if any("'" in value for value in values):
        raise ValueError("a CHECK value cannot hold a quote")
    return f"{column} IN (" + ", ".join(f"'{value}'" for value in values) + ")"


def ping() -> dict[str, Any]:
    """Run `SELECT 1` and report the backend; raises the driver's error when unreachable."""
    db.session.execute(text("SELECT 1"))
    return {"ok": True, "backend": db.engine.dialect.name}


APPEND_ONLY_FUNCTION = """
CREATE OR REPLACE FUNCTION gxpflow_append_only() RETURNS trigger AS $$
BEGIN
  RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP
    USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql
"""


def append_only_sql(table: str) -> list[str]:
    """PostgreSQL statements that make `table` refuse UPDATE, DELETE and TRUNCATE."""
    return [
        APPEND_ONLY_FUNCTION,
        f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
        "FOR EACH ROW EXECUTE FUNCTION gxpflow_append_only()",
        f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
        "FOR EACH STATEMENT EXECUTE FUNCTION gxpflow_append_only()",
    ]


_AFTER_COMMIT = "gxpflow.after_commit"


def insert_rows(table: Any, rows: list[dict[str, Any]]) -> None:
    """Insert many rows of a Core table in this transaction: COPY on PostgreSQL (several times
    faster than a pipelined INSERT for thousands of rows), one executemany elsewhere. Every
    row has the same keys; nothing is returned."""
    if not rows:
        return
    connection = db.session.connection()
    if connection.dialect.name != "postgresql":
        connection.execute(table.insert(), rows)
        return
    columns = list(rows[0])
    unknown = set(columns) - set(table.c.keys())
    if unknown:
        raise ValueError(f"{table.name} has no column {', '.join(sorted(unknown))}")
    statement = "COPY {} ({}) FROM STDIN".format(  # identifiers of our own schema, quoted
        connection.dialect.identifier_preparer.format_table(table),
        ", ".join(connection.dialect.identifier_preparer.quote(name) for name in columns))
    cursor = connection.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    with cursor.copy(statement) as copy:
        for row in rows:
            copy.write_row([row[name] for name in columns])


def after_commit(action: Any) -> None:
    """Run `action()` once the current transaction has committed (e.g. send a Celery task
    that reads rows this transaction wrote); dropped if it rolls back."""
    session = db.session()
    session.connection()
    session.info.setdefault(_AFTER_COMMIT, []).append(action)


def _run_after_commit(session: Any) -> None:
    for action in session.info.pop(_AFTER_COMMIT, []):
        action()


def _drop_after_commit(session: Any, _previous: Any) -> None:
    session.info.pop(_AFTER_COMMIT, None)


def ends_work(transaction: Any) -> bool:
    """Whether an ending session transaction is a transaction or a savepoint, not the inner
    one each flush opens and closes (state kept "for the transaction" survives flushes)."""
    from sqlalchemy.orm import SessionTransactionOrigin

    return bool(transaction.origin is not SessionTransactionOrigin.SUBTRANSACTION)


def transaction_cache(key: str, *written: type) -> None:
    """Make `session.info[key]` a cache for the unit of work: dropped when the transaction or a
    savepoint ends (not at each flush), and as soon as rows of the `written` classes are added
    or changed in the session. The caller fills it; this only forgets it in time."""
    from sqlalchemy import event
    from sqlalchemy.orm import Session

    def forget_at_end(session: Session, transaction: Any) -> None:
        if ends_work(transaction):
            session.info.pop(key, None)

    def forget_on_write(session: Session, _context: Any, _instances: Any) -> None:
        if any(isinstance(obj, written) for obj in (*session.new, *session.dirty)):
            session.info.pop(key, None)

    event.listen(Session, "after_transaction_end", forget_at_end)
    if written:
        event.listen(Session, "before_flush", forget_on_write)


def install_session_hooks() -> None:
    from sqlalchemy import event
    from sqlalchemy.orm import Session

    if not event.contains(Session, "after_commit", _run_after_commit):
        event.listen(Session, "after_commit", _run_after_commit)
        event.listen(Session, "after_soft_rollback", _drop_after_commit)
