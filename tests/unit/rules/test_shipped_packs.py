"""The shipped packs: they load, every case passes, every rule is exercised both ways, and
each README accounts for every line of its section of REGULATIONS.md."""

from __future__ import annotations

import re

import pytest

from engine.rules.conditions import iter_clauses
from engine.rules.facts import STEPS
from engine.rules.lifecycle import run_cases
from engine.rules.pack import SIGNATURE_MEANINGS, Pack, default_rules_root, pack_names

REGULATION_LINES = {"nmpa": 23, "fda": 17, "mdr": 9}
DUAL_REVIEW_STEPS = ("receiving.inspect", "release.decide", "outbound.check")


def test_the_three_regional_packs_ship() -> None:
    assert pack_names() == ["fda", "mdr", "nmpa"]


@pytest.mark.parametrize("name", sorted(REGULATION_LINES))
def test_every_case_passes_and_every_rule_is_exercised_both_ways(
        name: str, packs_by_id: dict[str, Pack]) -> None:
    report = run_cases(packs_by_id[name])
    assert report.ok, report.render()
    assert report.complete, report.render()


@pytest.mark.parametrize("name", sorted(REGULATION_LINES))
def test_readme_covers_every_regulation_line_and_every_rule(
        name: str, packs_by_id: dict[str, Pack]) -> None:
    pack = packs_by_id[name]
    text = (default_rules_root() / name / "README.md").read_text(encoding="utf-8")
    coverage = text.split("## Coverage of REGULATIONS.md", 1)[1]
    numbers = [int(n) for n in re.findall(r"^\| (\d+) \|", coverage, flags=re.MULTILINE)]
    assert numbers == list(range(1, REGULATION_LINES[name] + 1))
    rows = [line for line in coverage.splitlines() if re.match(r"^\| \d+ \|", line)]
    assert all(line.rstrip().endswith("|") and line.count("|") >= 4 for line in rows)
    assert "Dual review" in coverage and "Near-expiry threshold 180 days" in coverage
    named = set(re.findall(rf"`({name}-[a-z0-9.-]+)`", text))
    rule_ids = {rule.id for rule in pack.rules}
    assert rule_ids - named == set(), "rules missing from the README"
    assert named - rule_ids == set(), "README names rules the pack does not have"


@pytest.mark.parametrize("name", sorted(REGULATION_LINES))
def test_rules_are_named_cited_and_worded_for_the_clerk(
        name: str, packs_by_id: dict[str, Pack]) -> None:
    prefixes = {"nmpa": ("GSP ", "Order ", "NMPA UDI notices "), "fda": ("21 CFR ",),
                "mdr": ("MDR 2017/745 Art ",)}[name]
    for rule in packs_by_id[name].rules:
        assert rule.id.startswith(f"{name}-")
        assert rule.source.startswith((*prefixes, "design choice (")), rule.source
        assert re.search(r"[\u4e00-\u9fff]", rule.message_zh), rule.id
        assert rule.message_en[0].isupper() and rule.message_en.endswith("."), rule.id
        assert len(rule.message_en) <= 400 and len(rule.message_zh) <= 200, rule.id


def test_rule_ids_are_unique_across_packs(shipped_packs: list[Pack]) -> None:
    ids = [rule.id for pack in shipped_packs for rule in pack.rules]
    assert len(ids) == len(set(ids))


@pytest.mark.parametrize("name", sorted(REGULATION_LINES))
def test_design_choices_are_on_in_every_pack(name: str, packs_by_id: dict[str, Pack]) -> None:
    pack = packs_by_id[name]
    second_person = {rule.params["of_step"] for rule in pack.rules
                     if rule.effect == "require_second_person"}
    assert set(DUAL_REVIEW_STEPS) <= second_person
    assert any(rule.step == "review.dual" and rule.effect == "block" for rule in pack.rules)
    near = [rule for rule in pack.rules if rule.effect == "warn" and any(
        clause.field == "days_to_expiry" and clause.op == "lte" and clause.value == 180
        for clause in iter_clauses(rule.when))]
    assert {rule.step for rule in near} >= {"storage.scan", "outbound.order"}


def test_nmpa_cites_the_regulation_lines_exactly(packs_by_id: dict[str, Pack]) -> None:
    sources = {rule.source for rule in packs_by_id["nmpa"].rules}
    assert {"GSP 53 ※", "GSP 54", "GSP 57 ※, 80 ※; Order 54 Art 45", "GSP 51(4)(5)",
            "GSP 60", "GSP 91-92", "GSP 63", "GSP 67 ※", "GSP 64 ※, 65", "GSP 40, 69-70",
            "GSP 74", "GSP 74(4)", "GSP 51(6), 76 ※", "GSP 81, 82 ※", "GSP 83-84 ※",
            "GSP 87 ※, 88", "GSP 91-96", "GSP 106 ※, 107", "GSP 110 ※; Order 29 Art 7",
            "Order 29 Art 13, 15; GSP 111", "Order 1 Art 25, 31, 33", "GSP 18-20",
            "NMPA UDI notices 2021-114, 2023-22"} <= sources


def test_signature_meanings_match_the_signature_module() -> None:
    from engine.signatures import MEANINGS

    assert set(SIGNATURE_MEANINGS) == set(MEANINGS)


def test_every_step_is_gated_by_some_pack(shipped_packs: list[Pack]) -> None:
    gated = {step for pack in shipped_packs for step in pack.steps}
    assert gated == set(STEPS)
