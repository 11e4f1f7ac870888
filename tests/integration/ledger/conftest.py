"""Fixtures of the ledger tests: a small distributor's world, committed."""

from __future__ import annotations

from typing import Any

import pytest

from tests.integration.ledger.world import World, build_world


@pytest.fixture
def world(ctx: Any, make_user: Any) -> World:
    return build_world(make_user)
