"""What durable-rules 2.0.28 really does, pinned: each behaviour here shaped the gate's code.

If an upgrade changes one, these tests say which workaround to revisit.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from durable.engine import Closure

from engine.rules.errors import GateError
from engine.rules.gate import SENTINEL_FIELD, RulesetHost


@pytest.fixture
def host() -> Iterator[RulesetHost]:
    host = RulesetHost()
    yield host
    for name in host.ruleset_names:
        host.unregister(name)


class CountingHost(RulesetHost):
    """Counts every action run, before the gate's de-duplication."""

    def __init__(self) -> None:
        super().__init__()
        self.runs: list[str] = []

    def _recorder(self, rule_name: str) -> Callable[[Closure], None]:
        record = super()._recorder(rule_name)

        def count(c: Closure) -> None:
            self.runs.append(rule_name)
            record(c)

        return count


def test_an_event_is_consumed_by_the_first_matching_rule_a_fact_by_all() -> None:
    host = CountingHost()
    host.register("both", {"a": {"x": 1}, "b": {"x": 1}})
    host.post("both", {"sid": "event", "x": 1, SENTINEL_FIELD: 1})
    host.delete_state("both", "event")
    assert len(host.runs) == 1  # one of a, b, sentinel: the event is gone after it
    host.runs.clear()
    assert sorted(host.fire("both", {"x": 1})) == ["a", "b"]  # the gate asserts a fact


def test_a_comparison_with_a_missing_field_can_match(host: RulesetHost) -> None:
    host.register("refs", {
        "and": {"$and": [{"$gte": {"x": 0}}, {"$lte": {"x": {"$m": "y"}}}]},
        "alone": {"$lte": {"x": {"$m": "y"}}},
        "guarded": {"$and": [{"$ex": {"x": 1}}, {"$ex": {"y": 1}},
                             {"$lte": {"x": {"$m": "y"}}}]},
    })
    # y is missing, yet both unguarded rules match: compiled *_field tests test presence first.
    assert sorted(host.fire("refs", {"x": 5})) == ["alone", "and"]
    assert sorted(host.fire("refs", {"x": 5, "y": 7})) == ["alone", "and", "guarded"]


def test_text_compares_greater_than_numbers(host: RulesetHost) -> None:
    host.register("loose", {"big": {"$gt": {"a": 1000}}})
    assert host.fire("loose", {"a": "5"}) == ["big"]  # why facts are typed before the engine


def test_numbers_in_exponent_form_are_refused(host: RulesetHost) -> None:
    host.register("exp", {"r": {"$gt": {"a": 1}}})
    with pytest.raises(GateError, match="refused the fact"):
        host.fire("exp", {"a": 1e20})
    assert host.fire("exp", {"a": 10.0**14}) == ["r"]  # typed numbers stay below 1e15


def test_an_or_over_list_items_fires_once_per_matching_item() -> None:
    host = CountingHost()
    host.register("items", {"any": {"$or": [{"$iany": {"l": {"$i": "x"}}},
                                            {"$iany": {"l": {"$i": "y"}}}]}})
    assert host.fire("items", {"l": ["x", "y"]}) == ["any"]
    assert host.runs.count("any") == 2
