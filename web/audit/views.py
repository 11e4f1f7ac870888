"""Views of the audit blueprint: the trail filtered and paginated, one event, the CSV export and
the verify button. Filter times are typed in the user's zone and compared in UTC."""

from __future__ import annotations

import csv
import io
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from flask import Response, render_template, request, stream_with_context
from sqlalchemy import Select, or_, select

from engine import audit
from engine.audit import AuditEvent
from engine.db import db, utcnow
from engine.identity import service as identity
from web.audit import bp
from web.auth.forms import EmptyForm
from web.i18n import get_timezone
from web.i18n import translate as _
from web.paging import paginate
from web.security import requires

SORTABLE = {"seq": AuditEvent.seq, "at": AuditEvent.at, "actor": AuditEvent.actor_name,
            "action": AuditEvent.action, "entity": AuditEvent.entity_type}
CSV_COLUMNS = ("seq", "at_utc", "actor_id", "actor_name", "action", "entity_type", "entity_id",
               "before", "after", "reason", "prev_hash", "hash")
FILTER_NAMES = ("entity_type", "entity_id", "actor", "action", "since", "until")
#: A spreadsheet runs a cell that starts with one of these as a formula (CSV injection).
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: str) -> str:
    """A text cell a spreadsheet shows as text: one apostrophe before a value that starts like
    a formula, or with an apostrophe already (so `plain_cell` reverses it exactly)."""
    return "'" + value if value.startswith((*FORMULA_START, "'")) else value


def plain_cell(cell: str) -> str:
    """The stored value of an exported cell (what the event's hash covers)."""
    return cell[1:] if cell.startswith("'") and cell[1:].startswith((*FORMULA_START, "'")) \
        else cell


@dataclass
class Filters:
    """The filters as typed (for the form) and the UTC bounds they mean."""

    values: dict[str, str]
    since: datetime | None = None
    until: datetime | None = None
    errors: dict[str, str] = field(default_factory=dict)

    @property
    def active(self) -> bool:
        return any(self.values.values())


@bp.context_processor
def _helpers() -> dict[str, Any]:
    return {"get_timezone_name": lambda: get_timezone().key}


def _local_bound(text: str, end: bool) -> datetime:
    """A time typed in the user's zone as UTC; `end` makes the bound cover the minute or day."""
    text = text.strip().replace(" ", "T")
    for fmt, step in (("%Y-%m-%dT%H:%M", timedelta(minutes=1)),
                      ("%Y-%m-%dT%H:%M:%S", timedelta(seconds=1)),
                      ("%Y-%m-%d", timedelta(days=1))):
        try:
            naive = datetime.strptime(text, fmt)  # the user's zone is added next
        except ValueError:
            continue
        local = naive.replace(tzinfo=get_timezone())
        return (local + step if end else local).astimezone(UTC)
    raise ValueError(text)


def read_filters() -> Filters:
    values = {name: request.args.get(name, "").strip() for name in FILTER_NAMES}
    filters = Filters(values)
    for name, end in (("since", False), ("until", True)):
        if values[name]:
            try:
                setattr(filters, name, _local_bound(values[name], end))
            except ValueError:
                filters.errors[name] = _("Use a date (2026-03-31) or a date and time "
                                         "(2026-03-31 14:30).")
    return filters


def filtered(query: Select[Any], filters: Filters) -> Select[Any]:
    values = filters.values
    if values["entity_type"]:
        query = query.where(AuditEvent.entity_type == values["entity_type"])
    if values["entity_id"]:
        query = query.where(AuditEvent.entity_id == values["entity_id"])
    if values["action"]:
        query = query.where(AuditEvent.action.startswith(values["action"], autoescape=True))
    if values["actor"]:
        who = values["actor"]
        conditions = [AuditEvent.actor_name.icontains(who, autoescape=True)]
        found = identity.find_user(who)
        if found is not None:
            conditions.append(AuditEvent.actor_id == found.id)
        query = query.where(or_(*conditions))
    if filters.since is not None:
        query = query.where(AuditEvent.at >= filters.since)
    if filters.until is not None:
        query = query.where(AuditEvent.at < filters.until)
    return query


def changes(event: AuditEvent) -> list[tuple[str, str, str, bool]] | None:
    """Before and after side by side, key by key, when both are objects (else None)."""
    before, after = event.before_values, event.after_values
    if not isinstance(before, dict | None) or not isinstance(after, dict | None):
        return None
    before, after = before or {}, after or {}
    rows = []
    for key in sorted(set(before) | set(after), key=str):
        old = _shown(before[key]) if key in before else ""
        new = _shown(after[key]) if key in after else ""
        rows.append((str(key), old, new, key not in before or key not in after
                     or before[key] != after[key]))
    return rows


def _shown(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def _render(result: audit.VerifyResult | None = None, seconds: float | None = None) -> str:
    filters = read_filters()
    query = select(AuditEvent)
    if not filters.errors:
        query = filtered(query, filters)
    page = paginate(query, SORTABLE, default_sort="seq")
    return render_template("audit/index.html", page=page, filters=filters, changes=changes,
                           verify_form=EmptyForm(), result=result, seconds=seconds)


@bp.get("/")
@requires("audit.view")
def index() -> str:
    return _render()


@bp.get("/events/<int:seq>")
@requires("audit.view")
def event(seq: int) -> str:
    found = db.session.get(AuditEvent, seq)
    recomputed = None
    if found is not None:
        recomputed = audit.event_hash(found.seq, found.at, found.actor_id, found.actor_name,
                                      found.action, found.entity_type, found.entity_id,
                                      found.before, found.after, found.reason, found.prev_hash)
    return render_template("audit/event.html", seq=seq, event=found, recomputed=recomputed,
                           changes=changes)


@bp.post("/verify")
@requires("audit.verify")
def verify() -> str:
    """Recompute the whole chain now (the form's CSRF token is checked by CSRFProtect)."""
    started = time.perf_counter()
    result = audit.verify()
    seconds = time.perf_counter() - started
    db.session.rollback()
    return _render(result, seconds)


@bp.get("/export.csv")
@requires("audit.view")
def export() -> Response:
    """The filtered events as CSV, oldest first, streamed; times in UTC, hashes included, so
    anyone can recompute the chain from the file. A text that starts like a formula (= + - @,
    tab, carriage return) or with an apostrophe is written with one apostrophe in front, so a
    spreadsheet shows it instead of running it; `plain_cell` (strip one leading apostrophe)
    gives the stored value back."""
    filters = read_filters()
    if filters.errors:
        return Response("; ".join(filters.errors.values()), status=422,
                        mimetype="text/plain")
    columns = [getattr(AuditEvent, name) for name in
               ("seq", "at", "actor_id", "actor_name", "action", "entity_type", "entity_id",
                "before", "after", "reason", "prev_hash", "hash")]
    query = filtered(select(*columns), filters).order_by(AuditEvent.seq)

    def rows() -> Iterator[str]:
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\r\n")
        buffer.write("\ufeff")  # a byte-order mark, so spreadsheets read the Chinese right
        writer.writerow(CSV_COLUMNS)
        result = db.session.execute(query.execution_options(yield_per=2000))
        for chunk in result.partitions():
            for (seq, at, actor_id, actor_name, action, entity_type, entity_id, before, after,
                 reason, prev_hash, digest) in chunk:
                writer.writerow((seq, at.isoformat(timespec="microseconds"),
                                 "" if actor_id is None else actor_id, csv_cell(actor_name),
                                 csv_cell(action), csv_cell(entity_type), csv_cell(entity_id),
                                 csv_cell(before or ""), csv_cell(after or ""),
                                 csv_cell(reason or ""), prev_hash, digest))
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
        yield buffer.getvalue()

    stamp = utcnow().strftime("%Y%m%dT%H%M%SZ")
    return Response(stream_with_context(rows()), mimetype="text/csv",
                    headers={"Content-Disposition":
                             f'attachment; filename="audit-trail-{stamp}.csv"',
                             "Cache-Control": "no-store"})
