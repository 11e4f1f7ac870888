"""Clause oracle: a plain-Python evaluator of parsed conditions that the gate must agree with.

It reads the same parsed conditions the compiler reads, never the compiled durable-rules JSON,
and states the language's meaning directly: a test on a missing field is false (ne too),
`missing` is true exactly when the field is absent, field comparisons need both fields.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from engine.rules.conditions import AllOf, AnyOf, Clause, Condition
from engine.rules.pack import Pack

_COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    "eq": operator.eq, "ne": operator.ne, "lt": operator.lt, "lte": operator.le,
    "gt": operator.gt, "gte": operator.ge,
}


def holds(condition: Condition, fact: Mapping[str, Any]) -> bool:
    if isinstance(condition, AllOf):
        return all(holds(item, fact) for item in condition.items)
    if isinstance(condition, AnyOf):
        return any(holds(item, fact) for item in condition.items)
    return _test(condition, fact)


def _test(test: Clause, fact: Mapping[str, Any]) -> bool:
    present = test.field in fact
    if test.op == "exists":
        return present
    if test.op == "missing":
        return not present
    if not present:
        return False
    value = fact[test.field]
    if test.op.endswith("_field"):
        if test.value not in fact:
            return False
        return _COMPARE[test.op.removesuffix("_field")](value, fact[test.value])
    if test.op == "in":
        return value in test.value
    if test.op == "contains":
        return test.value in value
    if test.op == "contains_any":
        return any(item in value for item in test.value)
    return _COMPARE[test.op](value, test.value)


def expected_verdicts(step: str, fact: Mapping[str, Any],
                      packs: Sequence[Pack]) -> list[tuple[str, str]]:
    """(pack id, rule id) of every rule the oracle says matches, in pack and rule order."""
    return [(pack.id, rule.id) for pack in packs for rule in pack.rules_for(step)
            if holds(rule.when, fact)]
