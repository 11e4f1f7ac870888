"""Fixtures for runtime tests: the sample receiving and put-away processes, deployed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from engine import audit
from engine.db import db
from engine.workflow import store
from engine.workflow.runtime import Runtime, current_runtime

SAMPLES = Path(__file__).resolve().parents[2] / "unit" / "workflow" / "bpmn"

START_DATA = {
    "lines": [{"qty": 4, "product": "A", "unit_price": "2.5"},
              {"qty": 6, "product": "B", "unit_price": "1"}],
    "lot": "L1", "expiry_date": "2028-01-31", "received_on": "2026-11-22",
    "inspection_window": "PT48H", "correlation": "PO-1",
}


@pytest.fixture
def deployed(ctx: Flask) -> dict[str, Any]:
    definitions = {}
    for name in ("putaway.bpmn", "receiving.bpmn"):
        definition = store.deploy(audit.SYSTEM, (SAMPLES / name).read_bytes(), name)
        definitions[definition.key] = definition
    db.session.commit()
    return definitions


@pytest.fixture
def runtime(ctx: Flask) -> Runtime:
    return current_runtime()
