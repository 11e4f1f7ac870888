"""Before a pack is activated its cases must pass; before it is signed, the diff is read."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from engine.rules.gate import Gate
from engine.rules.lifecycle import diff_packs, render_diff, run_cases
from engine.rules.pack import Pack, parse_pack
from tests.unit.rules.builders import pack_data, rule

MakePack = Callable[..., Pack]
COLD = {"is_return": False, "cold_chain": True, "inspection_passed": True,
        "inspection_record_missing_fields": []}
AMBIENT = {**COLD, "cold_chain": False}


def case(name: str, fact: dict[str, Any], expect: list[str]) -> dict[str, Any]:
    return {"name": name, "step": "receiving.inspect", "fact": fact, "expect": expect}


def test_passing_cases_make_an_activatable_report(make_pack: MakePack) -> None:
    pack = make_pack(rule("t-cold"), cases=[case("cold", COLD, ["t-cold"]),
                                            case("ambient", AMBIENT, [])])
    report = run_cases(pack)
    assert report.ok and report.complete
    assert [(r.name, r.passed) for r in report.results] == [("cold", True), ("ambient", True)]
    assert report.render() == "Pack test 1.0.0: 2/2 cases passed"


def test_a_failing_case_shows_expected_and_got(make_pack: MakePack) -> None:
    pack = make_pack(rule("t-cold"), rule("t-return", when={"field": "is_return", "eq": True}),
                     cases=[case("cold", COLD, ["t-return"]), case("ambient", AMBIENT, [])])
    report = run_cases(pack)
    assert not report.ok
    [failed] = report.failed
    assert (failed.name, failed.expected, failed.got) == ("cold", ("t-return",), ("t-cold",))
    assert failed.missing == ("t-return",) and failed.unexpected == ("t-cold",)
    assert "FAILED cold (receiving.inspect)" in report.render()
    assert "expected: t-return" in report.render() and "got:      t-cold" in report.render()
    assert report.untriggered == ("t-return",)


def test_rules_never_shown_quiet_are_reported(make_pack: MakePack) -> None:
    pack = make_pack(rule("t-cold"), cases=[case("cold", COLD, ["t-cold"])])
    report = run_cases(pack)
    assert report.ok and not report.complete
    assert report.never_quiet == ("t-cold",)
    assert "no case leaves quiet: t-cold" in report.render()


def test_a_pack_without_cases_is_not_ok(make_pack: MakePack) -> None:
    assert not run_cases(make_pack()).ok


def test_cases_can_run_on_a_given_gate(make_pack: MakePack, gate: Gate) -> None:
    pack = make_pack(rule("t-cold"), cases=[case("cold", COLD, ["t-cold"])])
    assert run_cases(pack, gate).ok
    assert [loaded.id for loaded in gate.loaded] == ["test"]  # left loaded for later use


def new_version(**changes: Any) -> Pack:
    data = pack_data(rule("t-cold"), rule("t-gone", when={"field": "is_return", "eq": True}))
    data = copy.deepcopy(data)
    data.update(changes)
    return parse_pack(data)


def test_diff_lists_rules_added_removed_and_changed_field_by_field() -> None:
    old = new_version()
    changed = rule("t-cold", effect="quarantine", params={"status": "quarantine"},
                   when={"all": [{"field": "cold_chain", "eq": True},
                                 {"field": "arrival_temperature_c", "gt": 8}]},
                   message={"zh": "测试", "en": "Cold goods too warm."})
    new = new_version(version="1.1.0", rules=[changed, rule("t-new", effect="block")])
    changes = diff_packs(old, new)
    assert [(c.kind, c.rule_id, c.field) for c in changes] == [
        ("pack", None, "version"),
        ("removed", "t-gone", None),
        ("added", "t-new", None),
        ("changed", "t-cold", "when"),
        ("changed", "t-cold", "effect"),
        ("changed", "t-cold", "message.en"),
        ("changed", "t-cold", "params.status"),
    ]
    text = render_diff(old, new, changes)
    assert text.splitlines() == [
        "test 1.0.0 -> test 1.1.0: 7 change(s)",
        "  pack version: 1.0.0 -> 1.1.0",
        "  - rule t-gone: [receiving.inspect] warn when is_return == true",
        "  + rule t-new: [receiving.inspect] block when cold_chain == true",
        "  ~ rule t-cold when: cold_chain == true -> cold_chain == true and "
        "arrival_temperature_c > 8.0",
        "  ~ rule t-cold effect: warn -> quarantine",
        "  ~ rule t-cold message.en: Test -> Cold goods too warm.",
        "  ~ rule t-cold params.status: (none) -> quarantine",
    ]


def test_diff_of_identical_packs_is_empty(packs_by_id: dict[str, Pack]) -> None:
    nmpa = packs_by_id["nmpa"]
    assert diff_packs(nmpa, nmpa) == []
    assert render_diff(nmpa, nmpa) == "nmpa 2024.7.2 -> nmpa 2024.7.2: no changes"


def test_diff_between_shipped_packs_is_readable(packs_by_id: dict[str, Pack]) -> None:
    text = render_diff(packs_by_id["fda"], packs_by_id["mdr"])
    assert "pack region: US -> EU" in text
    assert "- rule fda-11.10f-release-before-inspection: [release.decide] block when " \
           "decision == \"release\" and inspection_completed == false" in text
