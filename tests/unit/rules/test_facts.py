"""Typing a step's fact: what a process author may send, and the refusals they will read."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from engine.rules.errors import FactError
from engine.rules.facts import STEPS, steps_markdown, type_fact

STEP_IDS = [
    "master.supplier_review", "master.product_review", "master.customer_review",
    "receiving.arrival", "receiving.inspect", "receiving.putaway", "review.dual",
    "release.decide", "outbound.order", "outbound.pick", "outbound.check", "outbound.ship",
    "recall.open", "recall.notify", "recall.close", "storage.scan", "vigilance.report",
    "relabel.request",
]

INSPECT = {"is_return": False, "cold_chain": True, "inspection_passed": True,
           "inspection_record_missing_fields": []}


def refusal(step: str, raw: dict[str, Any]) -> FactError:
    with pytest.raises(FactError) as caught:
        type_fact(step, raw)
    return caught.value


def test_the_catalog_has_exactly_the_gated_steps() -> None:
    assert list(STEPS) == STEP_IDS


def test_every_field_is_documented_and_enums_list_their_values() -> None:
    for schema in STEPS.values():
        assert len(set(schema.names)) == len(schema.names), schema.id
        for spec in schema.fields:
            assert spec.doc.strip(), f"{schema.id}.{spec.name} has no description"
            if spec.type == "enum":
                assert spec.choices, f"{schema.id}.{spec.name}"


def test_facts_md_is_generated_from_the_catalog() -> None:
    path = Path(__file__).resolve().parents[3] / "engine" / "rules" / "FACTS.md"
    assert path.read_text(encoding="utf-8") == steps_markdown(), (
        "engine/rules/FACTS.md is stale: regenerate it with steps_markdown()")


def test_values_are_coerced_to_what_the_engine_compares() -> None:
    fact = type_fact("receiving.inspect", {
        **INSPECT,
        "arrival_temperature_c": Decimal("8.25"),
        "temp_min_c": 2,
        "temp_max_c": "8",
        "days_to_expiry": "30",
        "inspection_passed": "TRUE",
        "inspection_record_missing_fields": ("inspector", "udi", "inspector"),
    })
    assert fact["arrival_temperature_c"] == 8.25 and isinstance(fact["arrival_temperature_c"],
                                                                float)
    assert fact["temp_min_c"] == 2.0 and isinstance(fact["temp_min_c"], float)
    assert fact["temp_max_c"] == 8.0
    assert fact["days_to_expiry"] == 30 and isinstance(fact["days_to_expiry"], int)
    assert fact["inspection_passed"] is True
    assert fact["inspection_record_missing_fields"] == ["inspector", "udi"]


def test_dates_and_times_become_sortable_text() -> None:
    fact = type_fact("receiving.arrival", {
        "is_return": False, "cold_chain": True, "matches_purchase_order": True,
        "matches_delivery_note": True, "delivery_note_missing_fields": [],
        "dispatch_time": datetime(2024, 7, 1, 8, 0, tzinfo=timezone(timedelta(hours=8))),
        "arrival_time": "2024-07-01T14:30:15.999Z",
    })
    assert fact["dispatch_time"] == "2024-07-01T00:00:00Z"
    assert fact["arrival_time"] == "2024-07-01T14:30:15Z"
    pick = type_fact("outbound.pick", {"stock_status": "available",
                                       "expiry_date": date(2026, 1, 31)})
    assert pick["expiry_date"] == "2026-01-31"
    assert type_fact("outbound.pick", {"stock_status": "available",
                                       "expiry_date": "2026-01-31"}) == pick


def test_typed_facts_type_again_unchanged() -> None:
    once = type_fact("receiving.inspect", {**INSPECT, "arrival_temperature_c": 5,
                                           "days_to_expiry": 3})
    assert type_fact("receiving.inspect", once) == once


def test_missing_none_and_blank_text_are_the_same() -> None:
    ship = {"cold_chain": True, "check_completed": True, "delivery_note_missing_fields": []}
    assert "carrier" not in type_fact("outbound.ship", {**ship, "carrier": None})
    assert "carrier" not in type_fact("outbound.ship", {**ship, "carrier": "   "})
    assert type_fact("outbound.ship", {**ship, "carrier": "DHL"})["carrier"] == "DHL"


def test_unknown_fields_are_refused_by_name() -> None:
    error = refusal("receiving.inspect", {**INSPECT, "arival_temp": 5})
    assert "field 'arival_temp' is not a field of step receiving.inspect" in error.message
    assert error.fields == {"arival_temp": "is not a field of step receiving.inspect"}


def test_required_fields_must_be_given() -> None:
    raw = dict(INSPECT)
    del raw["cold_chain"]
    error = refusal("receiving.inspect", raw)
    assert error.fields == {"cold_chain": "is required"}


def test_unknown_step_is_refused() -> None:
    error = refusal("receiving.unpack", {})
    assert "Unknown compliance step 'receiving.unpack'" in error.message


@pytest.mark.parametrize(("field", "value", "reason"), [
    ("arrival_temperature_c", "warm", "must be a number, got 'warm'"),
    ("arrival_temperature_c", True, "must be a number, got True (bool)"),
    ("arrival_temperature_c", float("nan"), "must be a finite number"),
    ("arrival_temperature_c", 1e16, "is out of range"),
    ("arrival_temperature_c", 0.00001, "is too small to compare"),
    ("days_to_expiry", 2.5, "must be a whole number, got 2.5"),
    ("days_to_expiry", "12 days", "must be a whole number, got '12 days'"),
    ("days_to_expiry", 2**60, "is out of range"),
    ("days_to_expiry", False, "must be a whole number, got False (bool)"),
    ("cold_chain", "yes", "must be true or false, got 'yes'"),
    ("cold_chain", 1, "must be true or false, got 1 (int)"),
    ("device_class", "IV", "must be one of I, II, IIa, IIb, III; got 'IV'"),
    ("inspection_record_missing_fields", "inspector", "must be a list of text"),
    ("inspection_record_missing_fields", ["colour"], "may only hold product, registration_no"),
])
def test_wrong_types_name_the_field_and_the_reason(field: str, value: Any, reason: str) -> None:
    error = refusal("receiving.inspect", {**INSPECT, field: value})
    assert reason in error.fields[field]
    assert f"field '{field}' {error.fields[field]}" in error.message


def test_every_problem_is_reported_at_once() -> None:
    error = refusal("receiving.inspect", {**INSPECT, "cold_chain": "maybe",
                                          "days_to_expiry": "soon", "colour": "red"})
    assert set(error.fields) == {"cold_chain", "days_to_expiry", "colour"}


@pytest.mark.parametrize(("value", "reason"), [
    ("2024-07-01T08:00:00", "must carry a time zone"),
    ("tomorrow", "must be an ISO date-time with a zone"),
])
def test_datetimes_need_a_zone(value: str, reason: str) -> None:
    raw = {"outcome": "death", "aware_at": value}
    assert reason in refusal("vigilance.report", raw).fields["aware_at"]


def test_dates_refuse_times_and_nonsense() -> None:
    base = {"stock_status": "available"}
    error = refusal("outbound.pick", {**base, "expiry_date": datetime(2026, 1, 1, tzinfo=UTC)})
    assert "without a time" in error.fields["expiry_date"]
    error = refusal("outbound.pick", {**base, "expiry_date": "2026-02-30"})
    assert "must be a date YYYY-MM-DD" in error.fields["expiry_date"]


def test_text_the_engine_cannot_carry_is_refused() -> None:
    ship = {"cold_chain": False, "check_completed": True, "delivery_note_missing_fields": []}
    for bad in ("a\x00b", "\ud800"):
        error = refusal("outbound.ship", {**ship, "waybill_no": bad})
        assert "valid Unicode text" in error.fields["waybill_no"]


def test_a_fact_must_be_a_mapping() -> None:
    with pytest.raises(FactError, match="must be a mapping"):
        type_fact("review.dual", [("reviewer_is_performer", True)])  # type: ignore[arg-type]
