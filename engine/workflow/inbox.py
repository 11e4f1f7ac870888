"""Inbox queries: on `human_task` rows only (indexed), never on workflow JSON."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from sqlalchemy import Select, and_, or_, select

from engine.db import utcnow
from engine.workflow.models import HumanTask

VIEWS = ("mine", "unclaimed", "all", "overdue")


def inbox_query(user_id: int, roles: Collection[str], view: str = "all", *,
                step: str | None = None, search: str | None = None,
                site_code: str | None = None) -> Select[Any]:
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
    if step:
        query = query.where(HumanTask.step == step)
    if site_code:
        query = query.where(HumanTask.site_code == site_code)
    if search:
        like = f"%{search.strip()}%"
        query = query.where(or_(HumanTask.subject.ilike(like), HumanTask.title.ilike(like)))
    return query


SORTABLE = {
    "created": HumanTask.created_at,
    "due": HumanTask.due_at,
    "step": HumanTask.step,
    "subject": HumanTask.subject,
}
