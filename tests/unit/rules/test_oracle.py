"""durable-rules and the plain-Python oracle agree: on the shipped packs over thousands of
random typed facts per step, and on random conditions over a step with every field type."""

from __future__ import annotations

import functools
import random
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.rules.conditions import (
    FIELD_COMPARISONS,
    ORDERINGS,
    Condition,
    ConditionError,
    iter_clauses,
    parse_condition,
    to_durable,
)
from engine.rules.facts import STEPS, FieldSpec, StepSchema, coerce_value, type_fact
from engine.rules.gate import Gate, RulesetHost
from engine.rules.pack import Pack, load_packs
from tests.unit.rules.oracle import expected_verdicts, holds

FACTS_PER_STEP = 3000  # drawn from seeded random generators, a batch per hypothesis example
BATCH = 25
SHRINKABLE_FACTS_PER_STEP = 150  # drawn by hypothesis itself, so a failure shrinks
RANDOM_RULESETS = 250

TEXTS = ("a", "b", "A", 'q"', "x\\y", "温度", "a b", "tab\there", "line\nbreak", "{}", "$m")
NUMBERS = (-2.0, -0.5, 0.0, 0.5, 1.0, 1.5, 2.0, 2.5, 5.0, 7.9, 8.0, 8.1, 12.0, 30.0)
DATES = ("2023-12-31", "2024-01-01", "2024-02-29", "2024-07-01", "2025-01-01")
MOMENTS = ("2024-07-01T00:00:00Z", "2024-07-01T08:00:00Z", "2024-07-01T08:00:01Z",
           "2024-12-31T23:59:59Z")


@functools.cache
def _literal_values() -> dict[str, set[Any]]:
    """Every number literal the shipped packs compare a field with, and its neighbours."""
    found: dict[str, set[Any]] = {}
    for pack in load_packs():
        for rule in pack.rules:
            for test in iter_clauses(rule.when):
                if isinstance(test.value, int | float) and not isinstance(test.value, bool):
                    spread = (-1, 0, 1) if isinstance(test.value, int) else (-0.5, 0, 0.5)
                    found.setdefault(test.field, set()).update(test.value + d for d in spread)
    return found


def _value_strategy(spec: FieldSpec, literals: set[Any]) -> st.SearchStrategy[Any]:
    if spec.type == "bool":
        return st.booleans()
    if spec.type == "int":
        return st.one_of(st.sampled_from(sorted(literals | {0, 1, 2})),
                         st.integers(min_value=-1000, max_value=1000))
    if spec.type == "number":
        return st.one_of(st.sampled_from(sorted(literals | set(NUMBERS))),
                         st.floats(min_value=-60, max_value=60).map(lambda x: round(x, 2)))
    if spec.type == "str":
        return st.one_of(st.sampled_from(TEXTS),
                         st.text(st.characters(blacklist_categories=("Cs",),
                                               blacklist_characters="\x00"), max_size=6))
    if spec.type == "enum":
        return st.sampled_from(spec.choices)
    if spec.type == "date":
        return st.one_of(st.sampled_from(DATES),
                         st.dates(date(2000, 1, 1), date(2099, 12, 31)).map(str))
    if spec.type == "datetime":
        return st.one_of(st.sampled_from(MOMENTS), st.datetimes(
            datetime(2000, 1, 1), datetime(2099, 1, 1), timezones=st.just(UTC)))
    return st.lists(st.sampled_from(spec.choices) if spec.choices else st.sampled_from(TEXTS),
                    unique=True, max_size=4)


def raw_facts(step: str) -> st.SearchStrategy[dict[str, Any]]:
    """Raw facts for a step: required fields always there, others often missing."""
    literals = _literal_values()
    parts: dict[str, st.SearchStrategy[Any]] = {}
    for spec in STEPS[step].fields:
        values = _value_strategy(spec, literals.get(spec.name, set()))
        parts[spec.name] = values if spec.required else st.one_of(st.none(), values)
    return st.fixed_dictionaries(parts)


@pytest.fixture(scope="module")
def module_gate() -> Iterator[Gate]:
    gate = Gate()
    yield gate
    gate.close()


def _random_value(spec: FieldSpec, literals: set[Any], rnd: random.Random) -> Any:
    """A value like `_value_strategy` draws, from a plain seeded generator (much faster)."""
    if spec.type == "bool":
        return rnd.random() < 0.5
    if spec.type == "int":
        pool = sorted(literals | {0, 1, 2})
        return rnd.choice(pool) if rnd.random() < 0.6 else rnd.randint(-1000, 1000)
    if spec.type == "number":
        pool = sorted(literals | set(NUMBERS))
        return rnd.choice(pool) if rnd.random() < 0.6 else round(rnd.uniform(-60, 60), 2)
    if spec.type == "str":
        return rnd.choice(TEXTS)
    if spec.type == "enum":
        return rnd.choice(spec.choices)
    if spec.type == "date":
        return rnd.choice(DATES) if rnd.random() < 0.6 else str(
            date(2000, 1, 1) + timedelta(days=rnd.randint(0, 36000)))
    if spec.type == "datetime":
        return rnd.choice(MOMENTS)
    items = spec.choices or TEXTS
    return rnd.sample(items, rnd.randint(0, min(4, len(items))))


def _random_raw_fact(step: str, literals: dict[str, set[Any]], rnd: random.Random
                     ) -> dict[str, Any]:
    return {spec.name: _random_value(spec, literals.get(spec.name, set()), rnd)
            for spec in STEPS[step].fields if spec.required or rnd.random() < 0.6}


def _packs_for(step: str, shipped_packs: list[Pack]) -> list[Pack]:
    packs = [pack for pack in shipped_packs if pack.rules_for(step)]
    if not packs:
        pytest.skip(f"no shipped pack has rules for {step}")
    return packs


def _check(gate: Gate, step: str, raw: dict[str, Any], packs: list[Pack]
           ) -> list[tuple[str, str]]:
    fact = type_fact(step, raw)
    decision = gate.evaluate(step, fact, packs)
    got = [(verdict.pack_id, verdict.rule_id) for verdict in decision.verdicts]
    assert got == expected_verdicts(step, fact, packs), fact
    return got


@pytest.mark.parametrize("step", list(STEPS))
def test_shipped_packs_agree_with_oracle(step: str, module_gate: Gate,
                                         shipped_packs: list[Pack]) -> None:
    packs = _packs_for(step, shipped_packs)
    literals = _literal_values()
    seen: set[tuple[str, str]] = set()
    count = [0]

    @settings(max_examples=FACTS_PER_STEP // BATCH, deadline=None, derandomize=True,
              database=None)
    @given(seed=st.integers(min_value=0, max_value=2**32 - 1))
    def agree(seed: int) -> None:
        rnd = random.Random(seed)
        for _ in range(BATCH):
            seen.update(_check(module_gate, step, _random_raw_fact(step, literals, rnd), packs))
            count[0] += 1

    agree()
    assert count[0] >= FACTS_PER_STEP
    # The facts reached most rules: a generator that never fires them would prove little.
    rules = {(pack.id, rule.id) for pack in packs for rule in pack.rules_for(step)}
    assert len(seen) >= len(rules) * 0.6, sorted(rules - seen)


@pytest.mark.parametrize("step", list(STEPS))
def test_shipped_packs_agree_with_oracle_shrinking(step: str, module_gate: Gate,
                                                   shipped_packs: list[Pack]) -> None:
    packs = _packs_for(step, shipped_packs)

    @settings(max_examples=SHRINKABLE_FACTS_PER_STEP, deadline=None, derandomize=True,
              database=None, suppress_health_check=[HealthCheck.too_slow])
    @given(raw=raw_facts(step))
    def agree(raw: dict[str, Any]) -> None:
        _check(module_gate, step, raw, packs)

    agree()


# -- random conditions over a step with every field type --------------------------------------

SYNTHETIC = StepSchema("synthetic.all_types", "Every field type", (
    FieldSpec("b1", "bool", ""), FieldSpec("b2", "bool", ""),
    FieldSpec("i1", "int", ""), FieldSpec("i2", "int", ""),
    FieldSpec("n1", "number", ""), FieldSpec("n2", "number", ""),
    FieldSpec("s1", "str", ""), FieldSpec("s2", "str", ""),
    FieldSpec("e1", "enum", "", choices=("a", "b", "q\"")),
    FieldSpec("d1", "date", ""), FieldSpec("d2", "date", ""),
    FieldSpec("t1", "datetime", ""), FieldSpec("t2", "datetime", ""),
    FieldSpec("l1", "list[str]", "", choices=("x", "y", "z")),
    FieldSpec("l2", "list[str]", ""),
))
POOLS: dict[str, tuple[Any, ...]] = {
    "bool": (True, False), "int": (-2, -1, 0, 1, 2, 3), "number": (-1.5, 0, 0.5, 1, 2, 2.5),
    "str": TEXTS, "enum": ("a", "b", 'q"'), "date": DATES, "datetime": MOMENTS,
}


def _pool(spec: FieldSpec) -> tuple[Any, ...]:
    if spec.type == "list[str]":
        return spec.choices or TEXTS
    return POOLS[spec.type]


@st.composite
def leaf(draw: st.DrawFn) -> dict[str, Any]:
    spec = draw(st.sampled_from(SYNTHETIC.fields))
    pool = _pool(spec)
    if spec.type == "list[str]":
        op = draw(st.sampled_from(("contains", "contains_any", "exists", "missing")))
    else:
        ops = ["eq", "ne", "exists", "missing", "eq_field", "ne_field"]
        if spec.type != "bool":
            ops.append("in")
        if spec.type in ("int", "number", "date", "datetime"):
            ops += ["lt", "lte", "gt", "gte", "lt_field", "lte_field", "gt_field", "gte_field"]
        op = draw(st.sampled_from(ops))
    if op in ("exists", "missing"):
        return {"field": spec.name, op: True}
    if op in ("in", "contains_any"):
        return {"field": spec.name, op: draw(st.lists(st.sampled_from(pool), min_size=1,
                                                        max_size=3, unique=True))}
    if op in FIELD_COMPARISONS:
        numeric = {"int", "number"}
        others = [other.name for other in SYNTHETIC.fields if other.name != spec.name and (
            other.type == spec.type or {other.type, spec.type} <= numeric
            or {other.type, spec.type} <= {"str", "enum"})]
        return {"field": spec.name, op: draw(st.sampled_from(others))}
    return {"field": spec.name, op: draw(st.sampled_from(pool))}


def conditions() -> st.SearchStrategy[dict[str, Any]]:
    return st.recursive(leaf(), lambda children: st.one_of(
        st.lists(children, min_size=1, max_size=3).map(lambda items: {"all": items}),
        st.lists(children, min_size=1, max_size=3).map(lambda items: {"any": items}),
    ), max_leaves=6)


@st.composite
def synthetic_facts(draw: st.DrawFn) -> dict[str, Any]:
    fact: dict[str, Any] = {}
    for spec in SYNTHETIC.fields:
        if draw(st.booleans()):
            continue
        if spec.type == "list[str]":
            fact[spec.name] = draw(st.lists(st.sampled_from(_pool(spec)), unique=True,
                                            max_size=3))
        else:
            fact[spec.name] = coerce_value(spec, draw(st.sampled_from(_pool(spec))))
    return fact


@pytest.fixture(scope="module")
def host() -> RulesetHost:
    return RulesetHost()


def test_random_conditions_agree_with_oracle(host: RulesetHost) -> None:
    counter = iter(range(10**9))

    @settings(max_examples=RANDOM_RULESETS, deadline=None, derandomize=True, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
    @given(raw_conditions=st.lists(conditions(), min_size=1, max_size=8),
           facts=st.lists(synthetic_facts(), min_size=1, max_size=15))
    def agree(raw_conditions: list[dict[str, Any]], facts: list[dict[str, Any]]) -> None:
        parsed: dict[str, Condition] = {}
        for index, raw in enumerate(raw_conditions):
            try:
                parsed[f"r{index}"] = parse_condition(raw, SYNTHETIC)
            except ConditionError:
                continue  # e.g. a branch of only exists/missing: refused, never compiled
        if not parsed:
            return
        name = f"synthetic-{next(counter)}"
        host.register(name, {rule_id: to_durable(cond) for rule_id, cond in parsed.items()})
        try:
            for fact in facts:
                got = sorted(host.fire(name, fact))  # each rule once, however it matched
                expected = sorted(rule_id for rule_id, cond in parsed.items()
                                  if holds(cond, fact))
                assert got == expected, (fact, raw_conditions)
        finally:
            host.unregister(name)

    agree()


def test_orderings_are_only_on_ordered_types() -> None:
    """The generator above relies on the language refusing ordering on text and lists."""
    for spec in SYNTHETIC.fields:
        for op in ORDERINGS:
            raw = {"all": [{"field": "b1", "eq": True},
                           {"field": spec.name, op: _pool(spec)[0]}]}
            if spec.type in ("int", "number", "date", "datetime"):
                parse_condition(raw, SYNTHETIC)
            else:
                with pytest.raises(ConditionError):
                    parse_condition(raw, SYNTHETIC)
