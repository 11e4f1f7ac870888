"""The condition language: how a parsed condition compiles, reads and round-trips."""

from __future__ import annotations

from typing import Any

import pytest

from engine.rules.conditions import (
    AllOf,
    AnyOf,
    Clause,
    describe,
    fields_used,
    is_anchored,
    parse_condition,
    to_data,
    to_durable,
)
from engine.rules.facts import STEPS

INSPECT = STEPS["receiving.inspect"]

EXCURSION = {"all": [
    {"field": "cold_chain", "eq": True},
    {"any": [{"field": "arrival_temperature_c", "gt_field": "temp_max_c"},
             {"field": "in_transit_record_present", "missing": True},
             {"field": "days_to_expiry", "in": [0, 1]}]},
]}


def test_a_condition_compiles_to_a_durable_rules_expression() -> None:
    condition = parse_condition(EXCURSION, INSPECT)
    assert to_durable(condition) == {"$and": [
        {"cold_chain": True},
        {"$or": [
            {"$and": [{"$ex": {"arrival_temperature_c": 1}}, {"$ex": {"temp_max_c": 1}},
                      {"$gt": {"arrival_temperature_c": {"$m": "temp_max_c"}}}]},
            {"$nex": {"in_transit_record_present": 1}},
            {"$or": [{"days_to_expiry": 0}, {"days_to_expiry": 1}]},
        ]},
    ]}


@pytest.mark.parametrize(("raw", "compiled"), [
    ({"field": "days_to_expiry", "ne": 3}, {"$neq": {"days_to_expiry": 3}}),
    ({"field": "days_to_expiry", "lte": -1}, {"$lte": {"days_to_expiry": -1}}),
    ({"field": "arrival_temperature_c", "gte": 2}, {"$gte": {"arrival_temperature_c": 2.0}}),
    ({"field": "device_class", "in": ["III"]}, {"device_class": "III"}),
    ({"field": "inspection_record_missing_fields", "contains": "udi"},
     {"$iany": {"inspection_record_missing_fields": {"$i": "udi"}}}),
    ({"field": "inspection_record_missing_fields", "contains_any": ["udi", "expiry"]},
     {"$or": [{"$iany": {"inspection_record_missing_fields": {"$i": "udi"}}},
              {"$iany": {"inspection_record_missing_fields": {"$i": "expiry"}}}]}),
    ({"all": [{"field": "cold_chain", "eq": False}]}, {"cold_chain": False}),
])
def test_each_operator_compiles(raw: dict[str, Any], compiled: dict[str, Any]) -> None:
    assert to_durable(parse_condition(raw, INSPECT)) == compiled


def test_literals_are_typed_as_the_field() -> None:
    condition = parse_condition({"field": "arrival_temperature_c", "gt": 8}, INSPECT)
    assert condition == Clause("arrival_temperature_c", "gt", 8.0)
    assert isinstance(condition.value, float)


def test_a_condition_reads_as_one_line() -> None:
    assert describe(parse_condition(EXCURSION, INSPECT)) == (
        "cold_chain == true and (arrival_temperature_c > temp_max_c or "
        "in_transit_record_present is missing or days_to_expiry in [0, 1])")


def test_a_condition_round_trips_through_pack_form() -> None:
    condition = parse_condition(EXCURSION, INSPECT)
    assert parse_condition(to_data(condition), INSPECT) == condition
    assert fields_used(condition) == {"cold_chain", "arrival_temperature_c", "temp_max_c",
                                      "in_transit_record_present", "days_to_expiry"}


def test_anchoring_needs_a_value_test_on_every_branch() -> None:
    missing = Clause("temp_max_c", "missing", True)
    value = Clause("cold_chain", "eq", True)
    assert is_anchored(AllOf((missing, value)))
    assert not is_anchored(AnyOf((missing, value)))
    assert is_anchored(AllOf((value, AnyOf((missing, Clause("temp_min_c", "exists", True))))))
    assert not is_anchored(AllOf((missing, Clause("temp_min_c", "exists", True))))


def test_depth_and_size_are_bounded() -> None:
    deep: dict[str, Any] = {"field": "cold_chain", "eq": True}
    for _ in range(9):
        deep = {"all": [deep]}
    with pytest.raises(ValueError, match="nests deeper than 8 levels"):
        parse_condition(deep, INSPECT)
    wide = {"any": [{"field": "days_to_expiry", "eq": n} for n in range(65)]}
    with pytest.raises(ValueError, match="more than 64 tests"):
        parse_condition(wide, INSPECT)
