"""Lists: one way to paginate, sort and search a query, and a pager every list page shows."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from flask import current_app, request
from sqlalchemy import Select, func, select
from sqlalchemy.sql.elements import ColumnElement

from engine.db import db


@dataclass
class Page:
    items: Sequence[Any]
    page: int
    per_page: int
    total: int
    sort: str
    direction: str

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))

    @property
    def has_prev(self) -> bool:
        return self.page > 1

    @property
    def has_next(self) -> bool:
        return self.page < self.pages

    def args(self, **changes: Any) -> dict[str, Any]:
        """The current URL's arguments (path and query string) with some changed (for links)."""
        values: dict[str, Any] = {**(request.view_args or {}), **request.args}
        values.update(changes)
        return values


def paginate(
    query: Select[Any],
    sortable: Mapping[str, ColumnElement[Any] | Any],
    default_sort: str,
    default_direction: str = "desc",
    scalars: bool = True,
) -> Page:
    """Apply `?page=&sort=&dir=` from the request to `query` (sort keys are whitelisted)."""
    per_page = current_app.extensions["gxpflow.settings"].page_size
    try:
        page = max(1, int(request.args.get("page", "1")))
    except ValueError:
        page = 1
    sort = request.args.get("sort", default_sort)
    if sort not in sortable:
        sort = default_sort
    direction = request.args.get("dir", default_direction)
    if direction not in ("asc", "desc"):
        direction = default_direction
    column = sortable[sort]
    ordered = query.order_by(column.asc() if direction == "asc" else column.desc())
    total = db.session.scalar(select(func.count()).select_from(query.order_by(None).subquery()))
    window = ordered.limit(per_page).offset((page - 1) * per_page)
    result = db.session.execute(window)
    items = result.scalars().all() if scalars else result.all()
    return Page(items, page, per_page, int(total or 0), sort, direction)
