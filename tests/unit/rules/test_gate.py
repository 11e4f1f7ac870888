"""The gate on durable-rules: every matching rule, merged across packs, in a host that keeps
no sessions, starts no threads and swaps pack versions while it runs."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import durable_rules_engine
import pytest
from durable.engine import Closure

from engine.rules.decision import Decision, Verdict
from engine.rules.errors import FactError, GateError
from engine.rules.gate import Gate, RulesetHost, get_gate, ruleset_name
from engine.rules.pack import Pack
from tests.unit.rules.builders import rule

INSPECT = {"is_return": False, "cold_chain": True, "inspection_passed": False,
           "inspection_record_missing_fields": [], "arrival_temperature_c": 5,
           "temp_min_c": 2, "temp_max_c": 8, "in_transit_record_present": True}
#: A warm cold-chain return the inspector tries to accept.
WARM_RETURN = {**INSPECT, "is_return": True, "arrival_temperature_c": 11,
               "inspection_passed": True}

MakePack = Callable[..., Pack]


def test_every_matching_rule_of_a_pack_is_reported(gate: Gate, packs_by_id: dict[str, Pack]
                                                   ) -> None:
    decision = gate.evaluate("receiving.inspect", WARM_RETURN, [packs_by_id["nmpa"]])
    assert decision.rule_ids == ["nmpa-gsp67-temp-block", "nmpa-gsp67-temp-quarantine",
                                 "nmpa-gsp67-cold-return-reject", "nmpa-dual-review-inspect"]
    assert decision.outcome == "block"
    assert decision.quarantine == ["quarantine"]
    assert decision.temperature_controlled_quarantine


def test_rules_with_the_same_condition_all_fire(gate: Gate, make_pack: MakePack) -> None:
    effects = [("t-block", "block", {}), ("t-warn", "warn", {}),
               ("t-sign", "require_signature", {"meaning": "verified"}),
               ("t-fields", "require_fields", {"fields": ["udi"]}),
               ("t-q", "quarantine", {"status": "nonconforming"})]
    pack = make_pack(*(rule(rule_id, effect=effect, params=params)
                       for rule_id, effect, params in effects))
    decision = gate.evaluate("receiving.inspect", INSPECT, [pack])
    assert decision.rule_ids == [rule_id for rule_id, _, _ in effects]
    assert gate.evaluate("receiving.inspect", {**INSPECT, "cold_chain": False},
                         [pack]).rule_ids == []


def test_strictest_effect_wins_across_packs(gate: Gate, make_pack: MakePack) -> None:
    warn = make_pack(rule("a-warn"), id="alpha")
    block = make_pack(rule("b-block", effect="block"), id="beta", region="US")
    both = gate.evaluate("receiving.inspect", INSPECT, [warn, block])
    assert both.outcome == "block"
    assert [(v.pack_id, v.rule_id) for v in both.verdicts] == [("alpha", "a-warn"),
                                                                ("beta", "b-block")]
    assert [v.rule_id for v in both.warnings] == ["a-warn"]
    assert [v.rule_id for v in both.blocks] == ["b-block"]
    assert gate.evaluate("receiving.inspect", INSPECT, [warn]).outcome == "warn"
    assert gate.evaluate("receiving.inspect", {**INSPECT, "cold_chain": False},
                         [warn, block]).outcome == "pass"


def test_shipped_packs_merge_for_one_site(gate: Gate, shipped_packs: list[Pack]) -> None:
    decision = gate.evaluate("release.decide", {
        "decision": "release", "inspection_completed": False, "stock_status": "nonconforming",
    }, shipped_packs)
    assert decision.packs == (("fda", "2024.1.0"), ("mdr", "2024.1.1"), ("nmpa", "2024.7.2"))
    assert decision.fact == {"decision": "release", "inspection_completed": False,
                             "stock_status": "nonconforming"}
    assert decision.outcome == "block"
    assert decision.signature_required == ["released", "approved"]
    assert decision.second_person_required == ["release.decide"]
    assert {v.pack_id for v in decision.blocks} == {"fda", "mdr"}


def verdict(effect: str, **params: Any) -> Verdict:
    return Verdict(rule_id=f"r-{effect}", effect=effect, params=params, message_zh="",
                   message_en="", source="", pack_id="p", pack_version="1.0")


def test_outcome_is_the_strictest_effect_in_the_documented_order() -> None:
    order = [verdict("block"), verdict("quarantine", status="quarantine"),
             verdict("require_second_person", of_step="release.decide"),
             verdict("require_signature", meaning="approved"),
             verdict("require_fields", fields=["udi"]),
             verdict("notify_within", deadline_hours=24, notify=["qa"]), verdict("warn")]
    for index, expected in enumerate(order):
        decision = Decision("release.decide", tuple(reversed(order[index:])))
        assert decision.outcome == expected.effect
    assert Decision("release.decide").outcome == "pass"


def test_decision_helpers_and_audit_record() -> None:
    decision = Decision("recall.open", (
        verdict("notify_within", deadline_working_days=10, notify=["authority"]),
        verdict("notify_within", deadline_hours=72, notify=["customers"]),
        verdict("notify_within", deadline_hours=0, notify=["qa"]),
        verdict("require_fields", fields=["udi", "lot"]),
        verdict("quarantine", status="recalled"),
    ), packs=(("p", "1.0"),), fact={"recall_level": "I"})
    assert [(d.hours, d.working_days) for d in decision.deadlines] == [(0, None), (72, None),
                                                                       (None, 10)]
    assert decision.required_fields == ["udi", "lot"]
    assert decision.quarantine == ["recalled"]
    assert not decision.blocked
    record = decision.to_dict()
    assert record["outcome"] == "quarantine"
    assert record["packs"] == [{"id": "p", "version": "1.0"}]
    assert record["fact"] == {"recall_level": "I"}
    assert record["verdicts"][0] == {
        "rule_id": "r-notify_within", "effect": "notify_within",
        "params": {"deadline_working_days": 10, "notify": ["authority"]},
        "message": {"zh": "", "en": ""}, "source": "", "pack_id": "p", "pack_version": "1.0"}
    json.dumps(record)


def test_5000_evaluations_leave_no_session_behind(gate: Gate, packs_by_id: dict[str, Pack]
                                                  ) -> None:
    nmpa = packs_by_id["nmpa"]
    first = gate.evaluate("receiving.inspect", WARM_RETURN, [nmpa])
    quiet = gate.evaluate("receiving.inspect", INSPECT, [nmpa])
    for index in range(5000):
        fact = WARM_RETURN if index % 2 else INSPECT
        decision = gate.evaluate("receiving.inspect", fact, [nmpa])
        assert decision.rule_ids == (first if index % 2 else quiet).rule_ids
    name = ruleset_name(nmpa, "receiving.inspect")
    for sid in ("1", "2", "5000"):
        with pytest.raises(durable_rules_engine.error, match="error code: 309"):
            gate.host.get_state(name, sid)  # the session is gone


def test_the_host_starts_no_threads(packs_by_id: dict[str, Pack]) -> None:
    before = threading.active_count()
    gate = Gate()
    try:
        gate.evaluate("receiving.inspect", WARM_RETURN, list(packs_by_id.values()))
        assert threading.active_count() == before
        assert not hasattr(gate.host, "_d_timer") and not hasattr(gate.host, "_t_timer")
    finally:
        gate.close()


def test_no_host_exists_before_the_first_evaluation(packs_by_id: dict[str, Pack]) -> None:
    gate = Gate()
    assert gate._host is None
    gate.evaluate("review.dual", {"review_of_step": "release.decide",
                                  "reviewer_is_performer": True}, [packs_by_id["nmpa"]])
    assert gate._host is not None
    gate.close()


def test_get_gate_is_one_gate_per_process() -> None:
    assert get_gate() is get_gate()


def test_a_changed_pack_replaces_the_registered_one(gate: Gate, make_pack: MakePack) -> None:
    warn = make_pack(rule("t-temp"))
    block = make_pack(rule("t-temp", effect="block"))
    assert warn.version == block.version and warn.digest != block.digest
    assert gate.evaluate("receiving.inspect", INSPECT, [warn]).outcome == "warn"
    old = gate.host._ruleset_directory[ruleset_name(warn, "receiving.inspect")]._handle
    assert gate.evaluate("receiving.inspect", INSPECT, [block]).outcome == "block"
    assert gate.host.ruleset_names == [ruleset_name(block, "receiving.inspect")]
    with pytest.raises(durable_rules_engine.error, match="error code: 111"):
        durable_rules_engine.assert_fact(old, json.dumps({"sid": "x", "cold_chain": True}))
    assert [(p.id, p.version, p.digest) for p in gate.loaded] == [("test", "1.0.0",
                                                                   block.digest)]


def test_two_versions_coexist_and_the_next_decision_follows_the_active_one(
        gate: Gate, make_pack: MakePack) -> None:
    v1 = make_pack(rule("t-temp"))
    v2 = make_pack(rule("t-temp", effect="block"), rule("t-return", when={
        "field": "is_return", "eq": True}, effect="quarantine", params={"status": "quarantine"}),
        version="1.1.0")
    assert gate.evaluate("receiving.inspect", WARM_RETURN, [v1]).rule_ids == ["t-temp"]
    assert gate.evaluate("receiving.inspect", WARM_RETURN, [v2]).rule_ids == ["t-temp",
                                                                             "t-return"]
    assert gate.evaluate("receiving.inspect", WARM_RETURN, [v1]).outcome == "warn"
    assert len(gate.loaded) == 2
    gate.unload("test", "1.0.0")
    assert gate.host.ruleset_names == [ruleset_name(v2, "receiving.inspect")]
    assert gate.evaluate("receiving.inspect", WARM_RETURN, [v1]).outcome == "warn"  # reloads


def test_evaluation_from_many_threads_is_serialised(gate: Gate, packs_by_id: dict[str, Pack]
                                                    ) -> None:
    nmpa = packs_by_id["nmpa"]
    expected = {False: gate.evaluate("receiving.inspect", INSPECT, [nmpa]).rule_ids,
                True: gate.evaluate("receiving.inspect", WARM_RETURN, [nmpa]).rule_ids}

    def run(index: int) -> bool:
        warm = index % 3 == 0
        got = gate.evaluate("receiving.inspect", WARM_RETURN if warm else INSPECT, [nmpa])
        return got.rule_ids == expected[warm]

    with ThreadPoolExecutor(max_workers=4) as pool:
        assert all(pool.map(run, range(2000)))


def test_bad_input_is_refused(gate: Gate, packs_by_id: dict[str, Pack],
                              make_pack: MakePack) -> None:
    nmpa = packs_by_id["nmpa"]
    with pytest.raises(FactError, match="field 'cold_chain' must be true or false"):
        gate.evaluate("receiving.inspect", {**INSPECT, "cold_chain": "1"}, [nmpa])
    with pytest.raises(GateError, match="Pack test is given twice"):
        gate.evaluate("receiving.inspect", INSPECT, [make_pack(), make_pack(version="2.0")])
    with pytest.raises(TypeError, match="packs must hold Pack objects"):
        gate.evaluate("receiving.inspect", INSPECT, ["nmpa"])  # type: ignore[list-item]
    assert gate.evaluate("relabel.request", {"relabel_kind": "repackage",
                                             "notified_manufacturer_and_authority": False},
                         [nmpa]).outcome == "pass"  # nmpa has no rule for this step


class FailingHost(RulesetHost):
    """A host whose action for one rule raises, as a broken action would."""

    def _recorder(self, rule_name: str) -> Callable[[Closure], None]:
        record = super()._recorder(rule_name)
        if rule_name != "boom":
            return record

        def explode(c: Closure) -> None:
            raise RuntimeError("action broke")

        return explode


def test_a_failing_action_is_surfaced_not_swallowed() -> None:
    host = FailingHost()
    host.register("failing", {"boom": {"x": 1}, "fine": {"x": 1}})
    with pytest.raises(GateError, match=r"A rule action failed in failing: .*action broke"):
        host.fire("failing", {"x": 1})
    assert host.fire("failing", {"x": 2}) == []  # the session was cleaned up; host usable
    host.unregister("failing")


def test_registering_a_name_twice_is_refused() -> None:
    host = RulesetHost()
    host.register("once", {"r": {"x": 1}})
    with pytest.raises(GateError, match="already registered"):
        host.register("once", {"r": {"x": 1}})
    host.unregister("once")
    host.unregister("once")  # no-op


def test_a_fresh_process_survives_a_first_evaluation_that_matches_nothing() -> None:
    """durable-rules 2.0.28 segfaults deleting a session in which no action ever ran; the
    gate's sentinel rule makes every evaluation run one. Checked in a fresh process, where
    the crash showed."""
    script = (
        "from engine.rules.gate import RulesetHost\n"
        "host = RulesetHost()\n"
        "for n in range(3):\n"
        "    host.register(f'r{n}', {'never': {'x': 1}})\n"
        "    assert host.fire(f'r{n}', {'x': 2}) == []\n"
        "print('ok')\n"
    )
    root = Path(__file__).resolve().parents[3]
    done = subprocess.run([sys.executable, "-c", script], cwd=root, capture_output=True,
                          text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"
