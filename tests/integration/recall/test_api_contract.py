"""The REST API keeps its OpenAPI document, whatever a client sends: schemathesis generates
requests from the document (valid ones, and invalid ones from its coverage phase) and checks
every answer: never a server error, the status codes, content types, headers and bodies the
document declares, and a valid request not refused for its shape. The world is the recall tests'
distributor, so the product of the document's example exists and recalls reach its stock.

The suite runs a fixed set of cases (derandomized, so CI gives the same answer twice);
`GXPFLOW_FUZZ=2000` runs that many fresh random cases per mode instead, to look for more."""

from __future__ import annotations

import os
from typing import Any

import pytest
import schemathesis
from flask import Flask
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.specs.openapi.checks import positive_data_acceptance

from engine import audit
from engine.db import db
from engine.identity import service as identity
from tests.integration.ledger.world import build_world
from tests.integration.recall.test_recall_engine import _shipped_world

TOKEN: dict[str, str] = {}
FUZZ = os.environ.get("GXPFLOW_FUZZ", "")


@pytest.fixture
def api(app: Flask, make_user: Any) -> Any:
    with app.app_context():
        world = build_world(make_user)
        _shipped_world(world)
        make_user("erp", "api_client", full_name="ERP link")
        TOKEN["plain"] = identity.create_token(audit.SYSTEM, identity.find_user("erp"), "ERP")
        db.session.commit()
    return schemathesis.openapi.from_wsgi(
        "/api/v1/openapi.json", app, headers={"Authorization": f"Bearer {TOKEN['plain']}"})


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_every_answer_is_what_the_document_says(api: Any, mode: GenerationMode) -> None:
    auth = {"Authorization": f"Bearer {TOKEN['plain']}"}

    @given(case=api.as_strategy(mode))
    @settings(max_examples=int(FUZZ or 150), derandomize=not FUZZ, deadline=None, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
    def answer(case: Any) -> None:
        # Whether a valid body is accepted depends on the data (an unknown product or lot is
        # a 422 naming the field), so that one check is left to the recall tests.
        case.call_and_validate(headers=auth, excluded_checks=[positive_data_acceptance])

    answer()
