"""Lists: one way to paginate, sort and search a query, and a pager every list page shows."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
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


@dataclass(frozen=True)
class PageArgs:
    """What `?page=&sort=&dir=` asks for, checked: a page of at least 1, a whitelisted sort."""

    number: int
    per_page: int
    sort: str
    direction: str

    @property
    def offset(self) -> int:
        return (self.number - 1) * self.per_page


def page_args(sortable: Collection[str], default_sort: str,
              default_direction: str = "desc") -> PageArgs:
    try:
        number = max(1, int(request.args.get("page", "1")))
    except ValueError:
        number = 1
    sort = request.args.get("sort", default_sort)
    if sort not in sortable:
        sort = default_sort
    direction = request.args.get("dir", default_direction)
    if direction not in ("asc", "desc"):
        direction = default_direction
    return PageArgs(number, current_app.extensions["gxpflow.settings"].page_size, sort,
                    direction)


def paginate(
    query: Select[Any],
    sortable: Mapping[str, ColumnElement[Any] | Any],
    default_sort: str,
    default_direction: str = "desc",
    scalars: bool = True,
) -> Page:
    """Apply `?page=&sort=&dir=` from the request to `query` (sort keys are whitelisted)."""
    args = page_args(sortable, default_sort, default_direction)
    column = sortable[args.sort]
    ordered = query.order_by(column.asc() if args.direction == "asc" else column.desc())
    total = db.session.scalar(select(func.count()).select_from(query.order_by(None).subquery()))
    result = db.session.execute(ordered.limit(args.per_page).offset(args.offset))
    items = result.scalars().all() if scalars else result.all()
    return Page(items, args.number, args.per_page, int(total or 0), args.sort, args.direction)
