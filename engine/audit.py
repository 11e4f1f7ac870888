"""The audit trail: append-only, hash-chained events for every change to a regulated record.

`record()` queues an event on the session; just before the transaction commits, the queued
events are chained onto the trail under a row lock on `audit_head`, so appends from many web and
worker processes keep one valid chain, and a rolled-back transaction leaves no event behind.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Index, Integer, String, Text, bindparam, event, select, text
from sqlalchemy.orm import Mapped, Session, mapped_column

from engine.db import UTCDateTime, db, utcnow
from engine.errors import InvalidInput

GENESIS = "0" * 64
PENDING_KEY = "gxpflow.audit.pending"


class AuditEvent(db.Model):  # type: ignore[name-defined]
    __tablename__ = "audit_event"

    seq: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"),
                                     primary_key=True, autoincrement=False)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    actor_id: Mapped[int | None] = mapped_column(Integer)
    actor_name: Mapped[str] = mapped_column(String(120), nullable=False)
    action: Mapped[str] = mapped_column(String(80), nullable=False)
    entity_type: Mapped[str] = mapped_column(String(60), nullable=False)
    entity_id: Mapped[str] = mapped_column(String(80), nullable=False)
    before: Mapped[str] = mapped_column(Text, nullable=False, default="null")
    after: Mapped[str] = mapped_column(Text, nullable=False, default="null")
    reason: Mapped[str] = mapped_column(Text, nullable=False, default="")
    prev_hash: Mapped[str] = mapped_column(String(64), nullable=False)
    hash: Mapped[str] = mapped_column(String(64), nullable=False)

    __table_args__ = (
        Index("ix_audit_event_entity", "entity_type", "entity_id", "seq"),
        Index("ix_audit_event_actor", "actor_id", "seq"),
        Index("ix_audit_event_action", "action", "seq"),
        Index("ix_audit_event_at", "at"),
    )

    @property
    def before_values(self) -> Any:
        return json.loads(self.before)

    @property
    def after_values(self) -> Any:
        return json.loads(self.after)


class AuditHead(db.Model):  # type: ignore[name-defined]
    """One row: the last sequence number and hash; locking it serialises appends."""

    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
    hash: Mapped[str] = mapped_column(String(64), nullable=False, default=GENESIS)


@dataclass(frozen=True)
class Actor:
    """Who did it: a user (id and printed name) or the system itself (id None)."""

    id: int | None
    name: str


SYSTEM = Actor(None, "system")


def canonical(values: Any) -> str:
    """JSON with sorted keys and no spaces: the exact text that is stored and hashed."""
    return json.dumps(values, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      default=str)


def event_hash(seq: int, at: datetime, actor_id: int | None, actor_name: str, action: str,
               entity_type: str, entity_id: str, before: str, after: str, reason: str,
               prev_hash: str) -> str:
    material = "\x1f".join(
        (str(seq), at.isoformat(timespec="microseconds"), str(actor_id or ""), actor_name,
         action, entity_type, entity_id, before, after, reason, prev_hash)
    )
    return hashlib.sha256(material.encode("utf-8")).hexdigest()


def record(
    actor: Actor | Any,
    action: str,
    entity_type: str,
    entity_id: object,
    *,
    before: Mapping[str, Any] | None = None,
    after: Mapping[str, Any] | None = None,
    reason: str = "",
    reason_required: bool = False,
    session: Session | None = None,
) -> None:
    """Queue an audit event; it is chained and written when the transaction commits.

    `actor` is an `Actor` or anything with `id` and `full_name` (a user).
    `reason_required` marks a modification of a regulated record: it must say why.
    """
    if reason_required and not (reason and reason.strip()):
        raise InvalidInput("A reason is required for this change.",
                           fields={"reason": "Say why the record is changed."})
    who = actor if isinstance(actor, Actor) else Actor(actor.id, actor.full_name)
    sess = session or db.session()
    sess.connection()  # begin the unit of work now, so a rollback also discards this event
    pending: list[dict[str, Any]] = sess.info.setdefault(PENDING_KEY, [])
    pending.append(
        {
            "at": utcnow(),
            "actor_id": who.id,
            "actor_name": who.name,
            "action": action,
            "entity_type": entity_type,
            "entity_id": str(entity_id),
            "before": canonical(before) if before is not None else "null",
            "after": canonical(after) if after is not None else "null",
            "reason": reason.strip(),
        }
    )


_EVENT_COLUMNS = ("seq", "at", "actor_id", "actor_name", "action", "entity_type", "entity_id",
                  "before", "after", "reason", "prev_hash", "hash")
_QUEUED_COLUMNS = ("at", "actor_id", "actor_name", "action", "entity_type", "entity_id",
                   "before", "after", "reason")

_head = AuditHead.__table__
_TAKE_SEQ = (_head.update().where(_head.c.id == 1)
             .values(seq=_head.c.seq + bindparam("count"))
             .returning(_head.c.seq, _head.c.hash))
_MOVE_HEAD = _head.update().where(_head.c.id == 1).values(hash=bindparam("head_hash"))
_INSERT_EVENTS = AuditEvent.__table__.insert()
_INSERT_HEAD = text("INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, :h) "
                    "ON CONFLICT (id) DO NOTHING")


def _pg_material(prefix: str, seq: str, prev_hash: str) -> str:
    """The bytes `event_hash` hashes, built by PostgreSQL from the columns of `prefix` (fields
    joined by U+001F, the time as `isoformat(timespec="microseconds")` in UTC, no actor as
    "")."""
    p = prefix
    return f"""convert_to(concat_ws(chr(31), ({seq})::text,
    to_char({p}at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US') || '+00:00',
    CASE WHEN {p}actor_id IS NULL OR {p}actor_id = 0 THEN '' ELSE {p}actor_id::text END,
    {p}actor_name, {p}action, {p}entity_type, {p}entity_id, {p}before, {p}after, {p}reason,
    {prev_hash}), 'UTF8')"""


#: PostgreSQL, a step's few events: lock the head, chain the queued events (one array per
#: column) onto it, insert them and move the head, in one statement. The hashes are computed
#: by PostgreSQL with the same bytes `event_hash` hashes (verify checks them either way).
#: Constant text, so it is parsed once and prepared by the driver. No row: no head yet.
#: Each link of the recursion looks its event up among all the queued ones, so the work grows
#: with the square of their number: batches above CHAINED_BY_POSTGRESQL are chained in Python.
_PG_APPEND = text(
    "WITH RECURSIVE head AS (SELECT seq, hash FROM audit_head WHERE id = 1 FOR UPDATE), "  # noqa: S608 - constant SQL
    "queued AS (SELECT * FROM unnest(CAST(:at AS timestamptz[]), CAST(:actor_id AS integer[]), "
    "CAST(:actor_name AS text[]), CAST(:action AS text[]), CAST(:entity_type AS text[]), "
    "CAST(:entity_id AS text[]), CAST(:before AS text[]), CAST(:after AS text[]), "
    "CAST(:reason AS text[])) WITH ORDINALITY AS q(at, actor_id, actor_name, action, "
    'entity_type, entity_id, "before", "after", reason, n)), '
    "chain AS (SELECT 0::bigint AS n, seq, hash::text, NULL::text AS prev_hash FROM head "
    "UNION ALL SELECT q.n, c.seq + 1, encode(sha256("
    + _pg_material("q.", "c.seq + 1", "c.hash")
    + "), 'hex'), c.hash FROM chain c JOIN queued q ON q.n = c.n + 1), "
    "added AS (INSERT INTO audit_event (seq, at, actor_id, actor_name, action, entity_type, "
    'entity_id, "before", "after", reason, prev_hash, hash) '
    "SELECT c.seq, q.at, q.actor_id, q.actor_name, q.action, q.entity_type, q.entity_id, "
    "q.before, q.after, q.reason, c.prev_hash, c.hash FROM chain c JOIN queued q ON q.n = c.n "
    "RETURNING seq), "
    "moved AS (UPDATE audit_head SET seq = last.seq, hash = last.hash FROM "
    "(SELECT seq, hash FROM chain ORDER BY n DESC LIMIT 1) AS last WHERE audit_head.id = 1) "
    "SELECT seq FROM added ORDER BY seq")
CHAINED_BY_POSTGRESQL = 32

#: PostgreSQL, events chained in Python (the head already locked by `_TAKE_SEQ`): all of them
#: and the head's new hash in one statement whatever their number.
_PG_INSERT_CHAINED = text(
    "WITH move_head AS (UPDATE audit_head SET hash = :head_hash WHERE id = 1) "
    "INSERT INTO audit_event (seq, at, actor_id, actor_name, action, entity_type, entity_id, "
    '"before", "after", reason, prev_hash, hash) '
    "SELECT * FROM unnest(CAST(:seq AS bigint[]), CAST(:at AS timestamptz[]), "
    "CAST(:actor_id AS integer[]), CAST(:actor_name AS text[]), CAST(:action AS text[]), "
    "CAST(:entity_type AS text[]), CAST(:entity_id AS text[]), CAST(:before AS text[]), "
    "CAST(:after AS text[]), CAST(:reason AS text[]), CAST(:prev_hash AS text[]), "
    "CAST(:hash AS text[]))")


def flush_pending(session: Session) -> list[int]:
    """Chain and insert the queued events now (normally called just before commit)."""
    pending: list[dict[str, Any]] = session.info.pop(PENDING_KEY, [])
    if not pending:
        return []
    postgresql = session.get_bind().dialect.name == "postgresql"
    if postgresql and len(pending) <= CHAINED_BY_POSTGRESQL:
        return _append_chained_by_postgresql(session, pending)
    head = session.connection().execute(_TAKE_SEQ, {"count": len(pending)}).one_or_none()
    if head is None:
        _insert_head(session)
        head = session.connection().execute(_TAKE_SEQ, {"count": len(pending)}).one()
    last_seq, prev = head
    seq = last_seq - len(pending)
    rows = []
    for values in pending:
        seq += 1
        digest = event_hash(seq, values["at"], values["actor_id"], values["actor_name"],
                            values["action"], values["entity_type"], values["entity_id"],
                            values["before"], values["after"], values["reason"], prev)
        rows.append({**values, "seq": seq, "prev_hash": prev, "hash": digest})
        prev = digest
    if postgresql:
        columns = {name: [row[name] for row in rows] for name in _EVENT_COLUMNS}
        session.connection().execute(_PG_INSERT_CHAINED, {**columns, "head_hash": prev})
    else:
        session.connection().execute(_INSERT_EVENTS, rows)
        session.connection().execute(_MOVE_HEAD, {"head_hash": prev})
    return [row["seq"] for row in rows]


def _append_chained_by_postgresql(session: Session, pending: list[dict[str, Any]]
                                  ) -> list[int]:
    """One round trip: the head locked, the events chained and inserted, the head moved."""
    columns = {name: [values[name] for values in pending] for name in _QUEUED_COLUMNS}
    seqs = list(session.connection().scalars(_PG_APPEND, columns))
    if not seqs:
        _insert_head(session)
        seqs = list(session.connection().scalars(_PG_APPEND, columns))
    return seqs


def _insert_head(session: Session) -> None:
    """The first event ever (or after a test emptied the table): several processes may get
    here at once; one inserts the head, the others wait for it and do nothing."""
    session.execute(_INSERT_HEAD, {"h": GENESIS})


@event.listens_for(Session, "before_commit")
def _chain_before_commit(session: Session) -> None:
    if session.info.get(PENDING_KEY):
        flush_pending(session)


@event.listens_for(Session, "after_soft_rollback")
def _drop_on_rollback(session: Session, _previous_transaction: Any) -> None:
    session.info.pop(PENDING_KEY, None)


@dataclass(frozen=True)
class VerifyResult:
    ok: bool
    checked: int
    broken_seq: int | None = None
    reason: str = ""

    def summary(self) -> str:
        if self.ok:
            return f"OK: {self.checked} events verified, the chain is intact"
        return (f"BROKEN at event {self.broken_seq}: {self.reason} "
                f"({self.checked} verified before it)")


VERIFY_COLUMNS = (
    "seq, at, actor_id, actor_name, action, entity_type, entity_id, before, after, reason, "
    "prev_hash, hash"
)

_PG_MATERIAL = _pg_material("", "seq", "prev_hash")


#: One statement, one snapshot: how many events, the last one, the first whose recomputed
#: hash differs, the first whose link to its predecessor is wrong (or whose predecessor is
#: missing), and the last hash.
_PG_VERIFY = (
    "SELECT (SELECT count(*) FROM audit_event WHERE seq > 0), "  # noqa: S608 - constant SQL
    "(SELECT max(seq) FROM audit_event WHERE seq > 0), "
    "(SELECT min(seq) FROM audit_event WHERE seq > 0 AND "
    "encode(sha256(" + _PG_MATERIAL + "), 'hex') <> hash), "
    "(SELECT min(e.seq) FROM audit_event e LEFT JOIN audit_event p ON p.seq = e.seq - 1 "
    "WHERE e.seq > 0 AND e.prev_hash IS DISTINCT FROM "
    "(CASE WHEN e.seq = 1 THEN :genesis ELSE p.hash END)), "
    "(SELECT hash FROM audit_event WHERE seq > 0 ORDER BY seq DESC LIMIT 1)"
)


def _rows(batch: int = 20000, after: int = 0) -> Iterator[tuple[Any, ...]]:
    """Stream the trail in sequence order, in keyset-paginated batches."""
    query = text(
        f"SELECT {VERIFY_COLUMNS} FROM audit_event WHERE seq > :after ORDER BY seq LIMIT :n"  # noqa: S608 - constant column list
    ).columns(at=UTCDateTime())
    while True:
        chunk = db.session.execute(query, {"after": after, "n": batch}).all()
        if not chunk:
            return
        yield from chunk
        after = chunk[-1][0]


@dataclass
class _Walk:
    """Where a verification has got to: the last good hash and the next expected sequence."""

    prev: str = GENESIS
    expected_seq: int = 1
    checked: int = 0

    def check(self, rows: Iterator[tuple[Any, ...]]) -> VerifyResult | None:
        """Check events one by one; the first broken one ends the walk."""
        for row in rows:
            (seq, at, actor_id, actor_name, action, entity_type, entity_id, before, after,
             reason, prev_hash, digest) = row
            if seq != self.expected_seq:
                return VerifyResult(False, self.checked, self.expected_seq,
                                    f"event {self.expected_seq} is missing "
                                    f"(next present is {seq})")
            if prev_hash != self.prev:
                return VerifyResult(False, self.checked, seq,
                                    "its link to the previous event was changed")
            if event_hash(seq, at, actor_id, actor_name, action, entity_type, entity_id, before,
                          after, reason, prev_hash) != digest:
                return VerifyResult(False, self.checked, seq,
                                    "its content was changed after it was written")
            self.prev = digest
            self.expected_seq += 1
            self.checked += 1
        return None

    def check_postgresql(self) -> VerifyResult | None:
        """The same check done by PostgreSQL in one statement (one snapshot, parallel scans):
        it recomputes every event's SHA-256 from its content (the bytes `event_hash` hashes)
        and finds the first event whose hash, link to its predecessor or predecessor is
        wrong. A sound trail is accepted at once; otherwise the walk is done again event by
        event from the start, so the result (and the first broken event) is exactly that of
        `check`."""
        found = db.session.execute(text(_PG_VERIFY), {"genesis": GENESIS}).one()
        count, last, bad_content, bad_link, last_hash = found
        if count and (bad_content is not None or bad_link is not None or last != count):
            return self.check(_rows())
        if count:
            self.prev = last_hash
            self.expected_seq = int(last) + 1
            self.checked = int(count)
        # Events committed after that snapshot are walked by `verify` from here.
        return None


def verify() -> VerifyResult:
    """Recompute the whole chain; name the first event that does not match."""
    walk = _Walk()
    if db.session.get_bind().dialect.name == "postgresql":
        broken = walk.check_postgresql()
    else:
        broken = walk.check(_rows())
    while broken is None:
        head = db.session.execute(select(AuditHead.seq, AuditHead.hash)).one_or_none()
        if head is None or (head.seq == walk.checked and head.hash == walk.prev):
            return VerifyResult(True, walk.checked)
        seen = walk.checked
        if head.seq > seen:
            # Events appended by others while the walk ran: check them too, then look at the
            # head again. Without progress, the end of the trail is missing.
            broken = walk.check(_rows(after=walk.expected_seq - 1))
            if broken is None and walk.checked > seen:
                continue
        broken = broken or VerifyResult(
            False, walk.checked, walk.checked + 1,
            f"the trail ends at event {walk.checked} but {head.seq} were written")
    return broken


def history(entity_type: str, entity_id: object) -> list[AuditEvent]:
    """Every event of one record, oldest first."""
    return list(
        db.session.scalars(
            select(AuditEvent)
            .where(AuditEvent.entity_type == entity_type, AuditEvent.entity_id == str(entity_id))
            .order_by(AuditEvent.seq)
        )
    )
