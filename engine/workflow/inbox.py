"""Inbox queries: on `human_task` rows only (indexed), never on workflow JSON.

A tab is a union of parts: my open tasks, and the unclaimed open tasks of each of my roles.
`inbox_query` is the whole tab as one composable query (for lists that sort and paginate it
themselves); `page` and `counts` read each part separately, in the page's order and cut at the
rows the page needs, then merge them (UNION ALL), so they cost a few index entries per part
however many tasks are open. (PostgreSQL will not merge per-role index scans of one query by
itself: it sorts every open task of the roles.)
"""

from __future__ import annotations

import functools
from collections.abc import Collection, Iterable, Sequence
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Integer,
    Select,
    and_,
    bindparam,
    false,
    func,
    or_,
    select,
    union_all,
)

from engine.db import db, utcnow
from engine.workflow.models import HumanTask, ProcessInstance

VIEWS = ("mine", "unclaimed", "all", "overdue")


def inbox_query(user_id: int, roles: Collection[str], view: str = "all", *,
                step: str | None = None, search: str | None = None,
                site_code: str | None = None, process_key: str | None = None) -> Select[Any]:
    """Open tasks a user can act on.

    `mine`: assigned to the user; `unclaimed`: unassigned tasks of the user's roles;
    `all`: both; `overdue`: either, past their due time.
    """
    mine = HumanTask.assignee_id == user_id
    unclaimed = and_(HumanTask.assignee_id.is_(None), HumanTask.role.in_(list(roles)))
    if view == "mine":
        condition = mine
    elif view == "unclaimed":
        condition = unclaimed
    else:
        condition = or_(mine, unclaimed)
    query = select(HumanTask).where(HumanTask.status == "open", condition)
    if view == "overdue":
        query = query.where(HumanTask.due_at < utcnow())
    return query.where(*_filters(step, search, site_code, process_key))


def _filters(step: str | None, search: str | None, site_code: str | None,
             process_key: str | None) -> list[ColumnElement[bool]]:
    found: list[ColumnElement[bool]] = []
    if step:
        found.append(HumanTask.step == step)
    if site_code:
        found.append(HumanTask.site_code == site_code)
    if process_key:
        found.append(HumanTask.instance_id.in_(
            select(ProcessInstance.id).where(ProcessInstance.process_key == process_key)))
    if search:
        like = f"%{search.strip()}%"
        found.append(or_(HumanTask.subject.ilike(like), HumanTask.title.ilike(like)))
    return found


#: The user and the time a tab is read for: parameters of the prebuilt statements.
USER, NOW = bindparam("user_id", type_=Integer), bindparam("now", type_=HumanTask.due_at.type)
LIMIT, OFFSET = bindparam("limit", type_=Integer), bindparam("offset", type_=Integer)


def _parts(roles: Collection[str], view: str,
           filters: Sequence[ColumnElement[bool]] = ()) -> list[Select[Any]]:
    """The tab (of USER at NOW) as separate queries, each served by one partial index: my
    open tasks (`ix_human_task_open_assignee`) and the unclaimed open tasks of each role
    (`ix_human_task_open_role`, `ix_human_task_unclaimed_due`)."""
    conditions: list[list[ColumnElement[bool]]] = []
    if view != "unclaimed":
        conditions.append([HumanTask.assignee_id == USER])
    if view != "mine":
        conditions.extend([HumanTask.assignee_id.is_(None), HumanTask.role == role]
                          for role in sorted(set(roles)))
    parts = []
    for where in conditions:
        if view == "overdue":
            where.append(HumanTask.due_at < NOW)
        parts.append(select(HumanTask).where(HumanTask.status == "open", *where, *filters))
    return parts


def page(user_id: int, roles: Collection[str], view: str = "all", *, sort: str = "created",
         direction: str = "asc", limit: int = 25, offset: int = 0, step: str | None = None,
         search: str | None = None, site_code: str | None = None,
         process_key: str | None = None) -> list[HumanTask]:
    """One page of a tab: the rows `inbox_query` gives in this order (a SORTABLE key, ties by
    id), reading each part in that order up to `offset + limit` rows."""
    if not roles and view == "unclaimed":
        return []
    shape = (tuple(sorted(set(roles))), view, sort, direction)
    filters = _filters(step, search, site_code, process_key)
    query = _build_page(*shape, filters) if filters else _page_query(*shape)
    return list(db.session.scalars(query, {"user_id": user_id, "now": utcnow(),
                                           "limit": limit, "offset": offset}))


def _build_page(roles: tuple[str, ...], view: str, sort: str, direction: str,
                filters: Sequence[ColumnElement[bool]] = ()) -> Select[Any]:
    """The statement of `page`, for USER at NOW, LIMIT rows from OFFSET."""
    column = SORTABLE[sort]

    def order(sort_column: Any, tie: Any) -> list[Any]:
        if direction == "desc":
            return [sort_column.desc(), tie.desc()]
        return [sort_column.asc(), tie.asc()]

    cut = []
    for part in _parts(roles, view, filters):
        ordered = (part.with_only_columns(HumanTask.id, column)
                   .order_by(*order(column, HumanTask.id)).limit(LIMIT + OFFSET).subquery())
        cut.append(select(ordered.c.id, ordered.c[column.key]))
    merged = union_all(*cut).subquery()
    ids = (select(merged.c.id).order_by(*order(merged.c[column.key], merged.c.id))
           .limit(LIMIT).offset(OFFSET))
    return select(HumanTask).where(HumanTask.id.in_(ids)).order_by(
        *order(column, HumanTask.id))


_page_query = functools.lru_cache(maxsize=512)(_build_page)
"""Unfiltered pages, built once per tab shape (building costs more than running them)."""


COUNT_CAP = 1000
"""Tab badges count up to this many tasks and show more as "1000+"."""


class TaskCount(int):
    """A tab's task count, capped: above COUNT_CAP it reads (and renders) as "1000+"."""

    @property
    def capped(self) -> bool:
        return self > COUNT_CAP

    def __str__(self) -> str:
        return f"{COUNT_CAP}+" if self.capped else int.__repr__(self)

    def __format__(self, spec: str) -> str:
        return str(self) if not spec else int.__format__(self, spec)


def counts(user_id: int, roles: Collection[str]) -> dict[str, TaskCount]:
    """How many open tasks each tab of a user's inbox holds (mine, unclaimed, overdue), in one
    query; each part stops at COUNT_CAP + 1 rows, so a busy role costs no more than a quiet
    one."""
    row = db.session.execute(_counts_query(tuple(sorted(set(roles)))),
                             {"user_id": user_id, "now": utcnow()}).one()
    return {view: TaskCount(value or 0) for view, value in zip(COUNTED, row, strict=True)}


COUNTED = ("mine", "unclaimed", "overdue")


@functools.lru_cache(maxsize=256)
def _counts_query(roles: tuple[str, ...]) -> Select[Any]:
    """The statement of `counts` for users with these roles (built once)."""
    capped = []
    for view in COUNTED:
        parts = [part.with_only_columns(HumanTask.id).limit(COUNT_CAP + 1).subquery()
                 for part in _parts(roles, view)]
        if not parts:
            capped.append(select(func.count()).where(false()).scalar_subquery())
            continue
        merged = union_all(*(select(part.c.id) for part in parts)).subquery()
        capped.append(select(func.count()).select_from(
            select(merged.c.id).limit(COUNT_CAP + 1).subquery()).scalar_subquery())
    return select(*capped)


def process_keys(tasks: Iterable[HumanTask]) -> dict[int, str]:
    """instance id -> process key, for the tasks shown on one page."""
    ids = {task.instance_id for task in tasks}
    if not ids:
        return {}
    return {instance_id: key for instance_id, key in db.session.execute(_PROCESS_KEYS,
                                                                          {"ids": list(ids)})}


_PROCESS_KEYS = select(ProcessInstance.id, ProcessInstance.process_key).where(
    ProcessInstance.id.in_(bindparam("ids", expanding=True)))


SORTABLE = {
    "created": HumanTask.created_at,
    "due": HumanTask.due_at,
    "step": HumanTask.step,
    "subject": HumanTask.subject,
}
