"""The declarative condition language of rule packs: parse and type-check, compile, describe.

A condition is a YAML mapping. A test names one field of the step's fact and one operator:

    {field: cold_chain, eq: true}
    {field: days_to_expiry, lt: 0}
    {field: device_class, in: [II, III]}
    {field: delivery_note_missing_fields, contains_any: [supplier, seal]}
    {field: arrival_temperature_c, gt_field: temp_max_c}
    {field: arrival_temperature_c, missing: true}

Operators: eq, ne, lt, lte, gt, gte (against a literal); eq_field ... gte_field (against another
field of the same fact); in (one of a list); contains / contains_any (list fields); exists /
missing (presence). Tests combine with `{all: [...]}` and `{any: [...]}`. Any test on a missing
field is false (ne too); `missing` is true exactly when the field is absent.

Refused at load: unknown fields and operators, literals that do not fit the field's type
(a number field against text), ordering on anything but numbers, dates and date-times, and any
branch made only of exists/missing tests (durable-rules loops forever on a rule that only tests
that a field does not exist).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from engine.rules.errors import clip, echo
from engine.rules.facts import (
    NUMERIC_TYPES,
    ORDERED_TYPES,
    FieldSpec,
    StepSchema,
    coerce_value,
)

COMPARISONS = ("eq", "ne", "lt", "lte", "gt", "gte")
ORDERINGS = frozenset({"lt", "lte", "gt", "gte"})
FIELD_COMPARISONS = tuple(f"{op}_field" for op in COMPARISONS)
PRESENCE = frozenset({"exists", "missing"})
OPERATORS = (*COMPARISONS, *FIELD_COMPARISONS, "in", "contains", "contains_any", *PRESENCE)

MAX_DEPTH = 8
MAX_TESTS = 64
MAX_CHOICES = 64

_DURABLE_OPS = {"ne": "$neq", "lt": "$lt", "lte": "$lte", "gt": "$gt", "gte": "$gte"}
_SYMBOLS = {"eq": "==", "ne": "!=", "lt": "<", "lte": "<=", "gt": ">", "gte": ">="}


class ConditionError(ValueError):
    """A condition is malformed; `location` is its path inside the rule (e.g. when.all[1])."""

    def __init__(self, location: str, reason: str) -> None:
        super().__init__(f"{location} {reason}")
        self.location = location
        self.reason = reason


@dataclass(frozen=True)
class Clause:
    """One test: `field op value`; value is a typed literal, a tuple, a field name or True."""

    field: str
    op: str
    value: Any


@dataclass(frozen=True)
class AllOf:
    items: tuple[Condition, ...]


@dataclass(frozen=True)
class AnyOf:
    items: tuple[Condition, ...]


Condition = Clause | AllOf | AnyOf


def parse_condition(raw: Any, schema: StepSchema, location: str = "when") -> Condition:
    """Parse and type-check a condition against a step schema; ConditionError if refused."""
    counter = [0]
    condition = _parse(raw, schema, location, 1, counter)
    if not is_anchored(condition):
        raise ConditionError(
            location, "has a branch made only of exists/missing tests; combine each with a "
                      "test of a value (durable-rules loops forever on a rule that only tests "
                      "that a field does not exist)")
    return condition


def _parse(raw: Any, schema: StepSchema, location: str, depth: int,
           counter: list[int]) -> Condition:
    if depth > MAX_DEPTH:
        raise ConditionError(location, f"nests deeper than {MAX_DEPTH} levels")
    if not isinstance(raw, Mapping):
        raise ConditionError(location, f"must be a mapping (a test, all or any), got "
                                       f"{type(raw).__name__}")
    keys = set(raw)
    if keys & {"all", "any"}:
        if len(keys) != 1:
            raise ConditionError(location, f"must hold only 'all' or only 'any', got keys "
                                           f"{clip(', '.join(sorted(map(str, keys))), 200)}")
        kind = "all" if "all" in keys else "any"
        members = raw[kind]
        if not isinstance(members, list) or not members:
            raise ConditionError(f"{location}.{kind}", "must be a non-empty list of conditions")
        items = tuple(_parse(member, schema, f"{location}.{kind}[{index}]", depth + 1, counter)
                      for index, member in enumerate(members))
        return AllOf(items) if kind == "all" else AnyOf(items)
    counter[0] += 1
    if counter[0] > MAX_TESTS:
        raise ConditionError(location, f"has more than {MAX_TESTS} tests")
    return _parse_clause(raw, schema, location)


def _parse_clause(raw: Mapping[Any, Any], schema: StepSchema, location: str) -> Clause:
    if "field" not in raw:
        raise ConditionError(location, "needs 'field' (or 'all' / 'any')")
    name = raw["field"]
    if not isinstance(name, str):
        raise ConditionError(f"{location}.field", f"must be a field name, got {echo(name)}")
    spec = schema.field(name)
    if spec is None:
        raise ConditionError(f"{location}.field",
                             f"{echo(name)} is not a field of step {schema.id}")
    ops = [key for key in raw if key != "field"]
    if len(ops) != 1:
        shown = clip(", ".join(map(str, ops)), 200) if ops else "none"
        raise ConditionError(location, f"needs exactly one operator ({', '.join(OPERATORS)}), "
                                       f"got {shown}")
    op = ops[0]
    if op not in OPERATORS:
        raise ConditionError(f"{location}.{clip(str(op))}",
                             f"is not an operator; use one of {', '.join(OPERATORS)}")
    value = raw[op]
    where = f"{location}.{op}"
    if op in PRESENCE:
        if value is not True:
            raise ConditionError(where, f"must be true (write the other of exists/missing "
                                        f"instead of false), got {echo(value)}")
        return Clause(name, op, True)
    if op in FIELD_COMPARISONS:
        return Clause(name, op, _other_field(spec, op, value, schema, where))
    if op in ("contains", "contains_any"):
        if not spec.is_list:
            raise ConditionError(where, f"needs a list field; {name} is {spec.type}")
        if op == "contains":
            return Clause(name, op, _list_item(spec, value, where))
        values = _literal_list(value, where)
        return Clause(name, op, tuple(_list_item(spec, item, f"{where}[{index}]")
                                    for index, item in enumerate(values)))
    if spec.is_list:
        raise ConditionError(where, f"cannot test the list field {name}; use contains or "
                                    "contains_any")
    if op == "in":
        if spec.type == "bool":
            raise ConditionError(where, f"cannot be used on the true/false field {name}; "
                                        "use eq")
        values = _literal_list(value, where)
        return Clause(name, op, tuple(_literal(spec, item, f"{where}[{index}]")
                                    for index, item in enumerate(values)))
    if op in ORDERINGS and spec.type not in ORDERED_TYPES:
        raise ConditionError(where, f"orders values, but {name} is {spec.type}; only numbers, "
                                    "dates and date-times can be ordered")
    return Clause(name, op, _literal(spec, value, where))


def _literal_list(value: Any, where: str) -> list[Any]:
    if not isinstance(value, list) or not value:
        raise ConditionError(where, f"must be a non-empty list, got {echo(value)}")
    if len(value) > MAX_CHOICES:
        raise ConditionError(where, f"lists more than {MAX_CHOICES} values")
    return value


def _literal(spec: FieldSpec, value: Any, where: str) -> Any:
    """A literal checked strictly against the field's type (no text-to-number guessing)."""
    expected = {
        "bool": isinstance(value, bool),
        "int": isinstance(value, int) and not isinstance(value, bool),
        "number": isinstance(value, int | float) and not isinstance(value, bool),
        "str": isinstance(value, str),
        "enum": isinstance(value, str),
        "date": isinstance(value, str | date) and not isinstance(value, datetime),
        "datetime": isinstance(value, str | datetime),
    }[spec.type]
    if not expected:
        raise ConditionError(where, f"compares {spec.name} ({_kind(spec)}) with "
                                    f"{_describe_literal(value)}")
    if isinstance(value, str) and not value.strip():
        raise ConditionError(where, f"compares {spec.name} with blank text, which a fact never "
                                    "holds (blank counts as missing); test missing instead")
    try:
        return coerce_value(spec, value)
    except ValueError as err:
        raise ConditionError(where, f"value {echo(value)} does not fit {spec.name}: "
                                    f"{clip(str(err), 200)}") from None


def _list_item(spec: FieldSpec, value: Any, where: str) -> str:
    if not isinstance(value, str):
        raise ConditionError(where, f"compares items of {spec.name} (text) with "
                                    f"{_describe_literal(value)}")
    if spec.choices and value not in spec.choices:
        raise ConditionError(where, f"{echo(value)} is not a possible item of {spec.name}; "
                                    f"items: {', '.join(spec.choices)}")
    return value


def _other_field(spec: FieldSpec, op: str, value: Any, schema: StepSchema, where: str) -> str:
    if not isinstance(value, str):
        raise ConditionError(where, f"must name another field, got {echo(value)}")
    other = schema.field(value)
    if other is None:
        raise ConditionError(where, f"{echo(value)} is not a field of step {schema.id}")
    if other.name == spec.name:
        raise ConditionError(where, f"compares {spec.name} with itself")
    if spec.is_list or other.is_list:
        raise ConditionError(where, "cannot compare list fields")
    same_kind = (spec.type in NUMERIC_TYPES and other.type in NUMERIC_TYPES) or (
        {spec.type, other.type} <= {"str", "enum"}) or spec.type == other.type
    if not same_kind:
        raise ConditionError(where, f"compares {spec.name} ({_kind(spec)}) with "
                                    f"{other.name} ({_kind(other)})")
    if op.removesuffix("_field") in ORDERINGS and spec.type not in ORDERED_TYPES:
        raise ConditionError(where, f"orders values, but {spec.name} is {spec.type}; only "
                                    "numbers, dates and date-times can be ordered")
    return other.name


def _kind(spec: FieldSpec) -> str:
    return {"int": "a whole number", "number": "a number", "bool": "true/false", "str": "text",
            "enum": "text", "date": "a date", "datetime": "a date-time",
            "list[str]": "a list"}[spec.type]


def _describe_literal(value: Any) -> str:
    if isinstance(value, bool):
        return f"true/false {str(value).lower()}"
    if isinstance(value, int | float):
        return f"the number {value}"
    if isinstance(value, str):
        return f"the text {echo(value)}"
    return f"{type(value).__name__} {echo(value)}"


def is_anchored(condition: Condition) -> bool:
    """True when every way the condition can match includes a test of a value."""
    if isinstance(condition, Clause):
        return condition.op not in PRESENCE
    if isinstance(condition, AllOf):
        return any(is_anchored(item) for item in condition.items)
    return all(is_anchored(item) for item in condition.items)


def iter_clauses(condition: Condition) -> Iterator[Clause]:
    """Every test in the condition, depth first."""
    if isinstance(condition, Clause):
        yield condition
    else:
        for item in condition.items:
            yield from iter_clauses(item)


def fields_used(condition: Condition) -> set[str]:
    """Names of every field the condition reads."""
    names: set[str] = set()
    for test in iter_clauses(condition):
        names.add(test.field)
        if test.op in FIELD_COMPARISONS:
            names.add(test.value)
    return names


def to_durable(condition: Condition) -> dict[str, Any]:
    """The durable-rules expression of the condition (the value of a rule's `m`)."""
    if isinstance(condition, AllOf | AnyOf):
        parts = [to_durable(item) for item in condition.items]
        if len(parts) == 1:
            return parts[0]
        return {"$and" if isinstance(condition, AllOf) else "$or": parts}
    name, op, value = condition.field, condition.op, condition.value
    if op == "exists":
        return {"$ex": {name: 1}}
    if op == "missing":
        return {"$nex": {name: 1}}
    if op == "in":
        equalities = [{name: item} for item in value]
        return equalities[0] if len(equalities) == 1 else {"$or": equalities}
    if op == "contains":
        return {"$iany": {name: {"$i": value}}}
    if op == "contains_any":
        members = [{"$iany": {name: {"$i": item}}} for item in value]
        return members[0] if len(members) == 1 else {"$or": members}
    if op in FIELD_COMPARISONS:
        base = op.removesuffix("_field")
        reference = {"$m": value}
        compare = {name: reference} if base == "eq" else {_DURABLE_OPS[base]: {name: reference}}
        # durable-rules 2.0.28 treats a comparison with a missing referenced field as a match
        # in some rulesets (it depends on the other rules), so both fields are tested first.
        return {"$and": [{"$ex": {name: 1}}, {"$ex": {value: 1}}, compare]}
    return {name: value} if op == "eq" else {_DURABLE_OPS[op]: {name: value}}


def to_data(condition: Condition) -> dict[str, Any]:
    """The condition back in pack form (canonical: typed literals, tuples as lists)."""
    if isinstance(condition, AllOf):
        return {"all": [to_data(item) for item in condition.items]}
    if isinstance(condition, AnyOf):
        return {"any": [to_data(item) for item in condition.items]}
    value = list(condition.value) if isinstance(condition.value, tuple) else condition.value
    return {"field": condition.field, condition.op: value}


def describe(condition: Condition) -> str:
    """The condition as one line a reviewer can read, e.g. `cold_chain == true and (...)`."""
    return _describe(condition, top=True)


def _describe(condition: Condition, top: bool = False) -> str:
    if isinstance(condition, AllOf | AnyOf):
        joiner = " and " if isinstance(condition, AllOf) else " or "
        text = joiner.join(_describe(item) for item in condition.items)
        return text if top or len(condition.items) == 1 else f"({text})"
    name, op, value = condition.field, condition.op, condition.value
    if op in PRESENCE:
        return f"{name} {'is given' if op == 'exists' else 'is missing'}"
    if op in FIELD_COMPARISONS:
        return f"{name} {_SYMBOLS[op.removesuffix('_field')]} {value}"
    if op in ("in", "contains_any"):
        shown = ", ".join(_show(item) for item in value)
        return f"{name} {'in' if op == 'in' else 'contains any of'} [{shown}]"
    if op == "contains":
        return f"{name} contains {_show(value)}"
    return f"{name} {_SYMBOLS[op]} {_show(value)}"


def _show(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)
