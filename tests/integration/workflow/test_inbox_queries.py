"""Inbox queries: `page` (per-part, cut and merged) gives exactly the rows of `inbox_query` in
the same order, and the tab counts stop at 1000+."""

from __future__ import annotations

import random
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import insert

from engine.db import db, utcnow
from engine.workflow import inbox
from engine.workflow.models import HumanTask, ProcessDefinition, ProcessInstance

ROLES = ("inspector", "auditor", "receiving_clerk")


def add_tasks(count: int, assignees: list[int], seed: int = 3, **fixed: Any) -> None:
    """COPY-like bulk insert of open and closed tasks with mixed roles, owners and due times."""
    rng = random.Random(seed)
    definition = ProcessDefinition(key="p", version=seed, name="P", filename="p.bpmn",
                                   bpmn_xml="<x/>", sha256="x", status="active")
    db.session.add(definition)
    db.session.flush()
    instance = ProcessInstance(definition_id=definition.id, process_key="p", status="running",
                               serialized="{}", serializer_version="1")
    db.session.add(instance)
    db.session.flush()
    now = utcnow()
    rows = []
    for i in range(count):
        created = now - timedelta(minutes=rng.randrange(0, 5000))
        rows.append({
            "instance_id": instance.id, "task_guid": f"g{seed}-{i}", "task_name": "T",
            "title": "Task", "step": rng.choice(("a.one", "b.two")), "role": rng.choice(ROLES),
            "subject": f"PO-{i}", "assignee_id": rng.choice([None, None, *assignees]),
            "status": rng.choice(("open", "open", "open", "completed")),
            # equal times in places, and no due time, so ties and NULLs are ordered too
            "created_at": created if i % 7 else now - timedelta(minutes=100),
            "due_at": None if i % 5 == 0 else created + timedelta(hours=rng.choice((1, 24, 90))),
            **fixed,
        })
    db.session.execute(insert(HumanTask), rows)
    db.session.flush()


@pytest.mark.parametrize("view", ["mine", "unclaimed", "all", "overdue"])
def test_a_page_is_the_query_s_rows_in_the_same_order(
    ctx: Flask, make_user: Any, view: str
) -> None:
    me = make_user("me", "inspector")
    other = make_user("other", "auditor")
    add_tasks(300, [me.id, other.id])
    roles = {"inspector", "auditor"}
    for sort in ("created", "due", "step", "subject"):
        for direction in ("asc", "desc"):
            column = inbox.SORTABLE[sort]
            ordered = inbox.inbox_query(me.id, roles, view).order_by(
                column.asc() if direction == "asc" else column.desc(),
                HumanTask.id.asc() if direction == "asc" else HumanTask.id.desc())
            expected = [t.id for t in db.session.scalars(ordered)]
            assert expected, "the data covers every view"
            for offset in (0, 25, len(expected) - 3):
                shown = inbox.page(me.id, roles, view, sort=sort, direction=direction,
                                   limit=25, offset=offset)
                assert [t.id for t in shown] == expected[offset:offset + 25], (sort, direction)
    filtered = inbox.page(me.id, roles, view, step="a.one", search="PO-1", limit=500)
    query = inbox.inbox_query(me.id, roles, view, step="a.one", search="PO-1")
    assert {t.id for t in filtered} == {t.id for t in db.session.scalars(query)}


def test_no_roles_and_no_tasks(ctx: Flask, make_user: Any) -> None:
    me = make_user("me", "inspector")
    assert inbox.page(me.id, set(), "unclaimed") == []
    assert inbox.page(me.id, set(), "all") == []
    assert inbox.counts(me.id, set()) == {"mine": 0, "unclaimed": 0, "overdue": 0}


def test_tab_counts_are_exact_up_to_1000_then_1000_plus(ctx: Flask, make_user: Any) -> None:
    me = make_user("me", "inspector")
    add_tasks(60, [me.id])
    roles = {"inspector", "auditor"}
    exact = {view: db.session.query(inbox.inbox_query(me.id, roles, view).subquery()).count()
             for view in ("mine", "unclaimed", "overdue")}
    assert inbox.counts(me.id, roles) == exact
    add_tasks(1200, [], seed=4, role="auditor", status="open", assignee_id=None,
              due_at=utcnow() - timedelta(hours=1))
    found = inbox.counts(me.id, roles)
    assert found["mine"] == exact["mine"] and str(found["mine"]) == str(exact["mine"])
    assert found["unclaimed"].capped and found["overdue"].capped
    assert str(found["unclaimed"]) == "1000+" and f"{found['overdue']}" == "1000+"
    assert found["unclaimed"] > 1000, "a capped count still reads as many"
