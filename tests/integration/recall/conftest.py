"""The recall tests reuse the ledger's small distributor."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from sqlalchemy import func, select

from engine.db import db
from engine.recall.models import RecallConsignee, RecallDelivery
from tests.integration.ledger.world import World, build_world


@pytest.fixture
def world(ctx: Any, make_user: Any) -> World:
    return build_world(make_user)


@pytest.fixture
def delivered(settled: Callable[[Callable[[], bool]], None]) -> Callable[..., None]:
    """Wait until notifications are done (see `settled`)."""
    return settled


@pytest.fixture(autouse=True)
def drained(request: pytest.FixtureRequest, stack: Any, app: Any) -> Iterator[None]:
    """On the production stack a real worker sends the notices; each test waits for it to finish
    them, so no task of one test runs while the next one empties the database."""
    if stack.backend != "production":
        yield
        return
    request.getfixturevalue("worker")
    yield
    with app.app_context():
        deadline = time.monotonic() + 60
        while db.session.scalar(
                select(func.count()).select_from(RecallConsignee).where(
                    RecallConsignee.notified_at.is_(None),
                    ~select(RecallDelivery.id).where(
                        RecallDelivery.consignee_id == RecallConsignee.id).exists())):
            if time.monotonic() > deadline:
                break
            time.sleep(0.2)
            db.session.rollback()
        db.session.rollback()
