"""Fixtures for the rule engine: the shipped packs, a private gate, and a pack built in a test."""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from engine.rules.gate import Gate
from engine.rules.pack import Pack, load_packs, parse_pack
from tests.unit.rules.builders import pack_data


@pytest.fixture(scope="session")
def shipped_packs() -> list[Pack]:
    return load_packs()


@pytest.fixture(scope="session")
def packs_by_id(shipped_packs: list[Pack]) -> dict[str, Pack]:
    return {pack.id: pack for pack in shipped_packs}


@pytest.fixture
def gate() -> Iterator[Gate]:
    gate = Gate()
    yield gate
    gate.close()


@pytest.fixture
def make_pack() -> Callable[..., Pack]:
    """Build a pack from rule dicts: make_pack(rule(...), version="2.0.0")."""

    def make(*rules: dict[str, Any], cases: Any = None, **overrides: Any) -> Pack:
        return parse_pack(copy.deepcopy(pack_data(*rules, **overrides)), cases)

    return make
