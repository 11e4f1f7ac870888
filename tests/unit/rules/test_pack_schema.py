"""A malformed pack is refused at load with the file, the rule, the field and the reason."""

from __future__ import annotations

import copy
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from engine.rules.errors import PackError
from engine.rules.pack import default_rules_root, load_pack, parse_pack
from tests.unit.rules.builders import pack_data, rule

SOURCE = "rules/nmpa/pack.yaml"


def refused(*rules: dict[str, Any], **pack: Any) -> str:
    with pytest.raises(PackError) as caught:
        parse_pack(pack_data(*rules, **pack), source=SOURCE)
    return caught.value.message


def test_a_misspelt_field_names_file_rule_and_field() -> None:
    message = refused(rule("nmpa-gsp67-temp", when={"field": "arival_temp", "gt": 8}))
    assert message == ("rules/nmpa/pack.yaml: rule nmpa-gsp67-temp: when.field 'arival_temp' "
                       "is not a field of step receiving.inspect")


def test_a_nested_bad_field_gives_its_path() -> None:
    when = {"all": [{"field": "cold_chain", "eq": True},
                    {"any": [{"field": "in_transit_record_present", "eq": False},
                             {"field": "arrival_temp", "gt_field": "temp_max_c"}]}]}
    message = refused(rule("t-nested", when=when))
    assert "rule t-nested: when.all[1].any[1].field 'arrival_temp' is not a field" in message


def test_an_unknown_effect_is_refused() -> None:
    message = refused(rule("t-effect", effect="stop"))
    assert message.startswith("rules/nmpa/pack.yaml: rule t-effect: effect 'stop' is not an "
                              "effect; effects: block, quarantine")


def test_comparing_a_number_field_with_text_is_refused() -> None:
    message = refused(rule("t-text", when={"field": "arrival_temperature_c", "gt": "8"}))
    assert message == ("rules/nmpa/pack.yaml: rule t-text: when.gt compares "
                       "arrival_temperature_c (a number) with the text '8'")


def test_comparing_a_number_field_with_a_text_field_is_refused() -> None:
    message = refused(rule("t-fields", step="outbound.ship", when={
        "all": [{"field": "cold_chain", "eq": True},
                {"field": "carrier", "eq_field": "cold_chain"}]}))
    assert "when.all[1].eq_field compares carrier (text) with cold_chain (true/false)" in message


@pytest.mark.parametrize(("when", "reason"), [
    ({"field": "cold_chain", "eq": "yes"}, "compares cold_chain (true/false) with the text"),
    ({"field": "days_to_expiry", "lt": 0.5}, "compares days_to_expiry (a whole number) with "
                                             "the number 0.5"),
    ({"field": "days_to_expiry", "lt": True}, "compares days_to_expiry (a whole number) with "
                                              "true/false true"),
    ({"field": "device_class", "eq": "IV"}, "must be one of I, II, IIa, IIb, III"),
    ({"field": "device_class", "gt": "II"}, "orders values, but device_class is enum"),
    ({"field": "cold_chain", "in": [True]}, "cannot be used on the true/false field"),
    ({"field": "device_class", "in": []}, "must be a non-empty list"),
    ({"field": "cold_chain", "contains": "x"}, "needs a list field; cold_chain is bool"),
    ({"field": "inspection_record_missing_fields", "contains": "colour"},
     "'colour' is not a possible item of inspection_record_missing_fields"),
    ({"field": "inspection_record_missing_fields", "eq": []}, "cannot test the list field"),
    ({"field": "cold_chain", "eq": True, "ne": False}, "needs exactly one operator"),
    ({"field": "cold_chain", "equals": True}, "is not an operator"),
    ({"field": "cold_chain"}, "needs exactly one operator"),
    ({"eq": True}, "needs 'field'"),
    ({"all": []}, "must be a non-empty list of conditions"),
    ({"all": [{"field": "cold_chain", "eq": True}], "any": []}, "must hold only 'all' or"),
    ([{"field": "cold_chain", "eq": True}], "must be a mapping"),
    ({"field": "arrival_temperature_c", "gt_field": "arrival_temperature_c"}, "with itself"),
    ({"field": "arrival_temperature_c", "gt_field": "temp_top"}, "'temp_top' is not a field"),
    ({"all": [{"field": "cold_chain", "eq": True},
              {"field": "arrival_temperature_c", "exists": False}]}, "must be true"),
])
def test_bad_conditions_are_refused(when: Any, reason: str) -> None:
    assert reason in refused(rule("t-bad", when=when))


def test_comparing_with_blank_text_is_refused() -> None:
    when = {"all": [{"field": "cold_chain", "eq": True}, {"field": "carrier", "eq": " "}]}
    message = refused(rule("t-blank", step="outbound.ship", when=when))
    assert "when.all[1].eq compares carrier with blank text" in message


def test_a_condition_made_only_of_missing_is_refused() -> None:
    message = refused(rule("t-missing", when={"field": "arrival_temperature_c",
                                              "missing": True}))
    assert message.startswith("rules/nmpa/pack.yaml: rule t-missing: when has a branch made "
                              "only of exists/missing tests")
    assert "loops forever" in message


def test_a_missing_test_in_an_any_branch_of_its_own_is_refused() -> None:
    when = {"any": [{"field": "cold_chain", "eq": True},
                    {"field": "arrival_temperature_c", "missing": True}]}
    assert "only of exists/missing tests" in refused(rule("t-branch", when=when))


def test_missing_beside_a_value_test_is_accepted() -> None:
    when = {"all": [{"field": "cold_chain", "eq": True},
                    {"any": [{"field": "arrival_temperature_c", "missing": True},
                             {"field": "temp_max_c", "exists": True}]}]}
    pack = parse_pack(pack_data(rule("t-ok", when=when)))
    assert pack.rule("t-ok").effect == "warn"


@pytest.mark.parametrize(("effect", "params", "reason"), [
    ("block", {"status": "quarantine"}, "params.status is not a parameter of block"),
    ("quarantine", {}, "params.status is required for quarantine"),
    ("quarantine", {"status": "held"}, "'held' must be one of quarantine, nonconforming"),
    ("require_signature", {"meaning": "ok"}, "'ok' is not a signature meaning"),
    ("require_second_person", {"of_step": "inspect"}, "'inspect' is not a step"),
    ("require_fields", {"fields": []}, "must be a non-empty list of snake_case names"),
    ("require_fields", {"fields": ["udi", "udi"]}, "names a field twice"),
    ("notify_within", {"notify": ["qa"]}, "needs exactly one of deadline_hours"),
    ("notify_within", {"deadline_hours": -1, "notify": ["qa"]}, "from 0 to 8760"),
    ("notify_within", {"deadline_hours": 1, "notify": ["everyone"]}, "must list who to notify"),
    ("notify_within", {"deadline_working_days": 1.5, "notify": ["qa"]}, "whole number"),
])
def test_params_are_checked_per_effect(effect: str, params: dict[str, Any], reason: str
                                       ) -> None:
    message = refused(rule("t-params", effect=effect, params=params))
    assert message.startswith("rules/nmpa/pack.yaml: rule t-params: params")
    assert reason in message


@pytest.mark.parametrize(("change", "reason"), [
    ({"version": 1.0}, "version 1.0 must be text like '2024.7.0'"),
    ({"version": "one"}, "version 'one' must be text"),
    ({"region": "JP"}, "region 'JP' must be one of CN, US, EU"),
    ({"id": "NMPA"}, "id 'NMPA' must be lower case"),
    ({"effective_date": "soon"}, "effective_date 'soon' must be a date"),
    ({"title": " "}, "title must be non-empty text"),
    ({"rules": []}, "rules must be a non-empty list"),
    ({"author": "me"}, "unknown key 'author'"),
])
def test_pack_fields_are_checked(change: dict[str, Any], reason: str) -> None:
    message = refused(**change)
    assert message.startswith("rules/nmpa/pack.yaml: ")
    assert reason in message


def test_rule_keys_ids_and_messages_are_checked() -> None:
    assert "unknown key 'severity'" in refused(rule("t-keys", severity="high"))
    assert "source is missing" in refused({k: v for k, v in rule("t-src").items()
                                           if k != "source"})
    assert "rules[0]: id 'Bad_Id'" in refused(rule("Bad_Id"))
    assert "message must have exactly zh and en" in refused(rule("t-msg",
                                                                 message={"en": "Only"}))
    assert "message.zh must be non-empty text" in refused(rule("t-msg",
                                                              message={"en": "x", "zh": ""}))
    assert "step 'receiving.unpack' is not a step" in refused(rule("t-step",
                                                                   step="receiving.unpack"))
    assert "id is used by another rule" in refused(rule("t-twice"), rule("t-twice"))


def case(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "name": "cold arrival", "step": "receiving.inspect",
        "fact": {"is_return": False, "cold_chain": True, "inspection_passed": True,
                 "inspection_record_missing_fields": []},
        "expect": ["t-rule"],
    }
    data.update(overrides)
    return data


@pytest.mark.parametrize(("cases", "reason"), [
    ([case(fact={**case()["fact"], "cold_chain": "yes"})],
     "case 'cold arrival': fact field 'cold_chain' must be true or false"),
    ([case(expect=["t-other"])], "expect names 't-other', which is not a rule of this pack "
                                 "at step receiving.inspect"),
    ([case(), case()], "case 'cold arrival': name is used by another case"),
    ([case(step="outbound.ship", fact={"cold_chain": True, "check_completed": True,
                                       "delivery_note_missing_fields": []})],
     "expect names 't-rule', which is not a rule of this pack at step outbound.ship"),
    ([case(result=[])], "unknown key 'result'"),
    ([], "must be a non-empty list of cases"),
])
def test_cases_are_checked(cases: list[dict[str, Any]], reason: str) -> None:
    with pytest.raises(PackError) as caught:
        parse_pack(pack_data(), cases, cases_source="rules/test/cases.yaml")
    assert caught.value.message.startswith("rules/test/cases.yaml: ")
    assert reason in caught.value.message


def copy_pack(tmp_path: Path, name: str = "nmpa") -> Path:
    folder = tmp_path / "rules" / name
    shutil.copytree(default_rules_root() / name, folder)
    return folder


def test_load_pack_by_name_and_by_path(tmp_path: Path) -> None:
    by_name = load_pack("nmpa")
    folder = copy_pack(tmp_path)
    by_path = load_pack(folder)
    by_root = load_pack("nmpa", rules_root=tmp_path / "rules")
    assert by_name.digest == by_path.digest == by_root.digest
    assert by_name.folder == default_rules_root() / "nmpa"


def test_errors_in_files_name_the_file(tmp_path: Path) -> None:
    folder = copy_pack(tmp_path)
    data = yaml.safe_load((folder / "pack.yaml").read_text(encoding="utf-8"))
    broken = copy.deepcopy(data)
    broken["rules"][0]["effect"] = "halt"
    (folder / "pack.yaml").write_text(yaml.safe_dump(broken, allow_unicode=True),
                                      encoding="utf-8")
    with pytest.raises(PackError) as caught:
        load_pack(folder)
    assert caught.value.message.startswith(
        f"rules/nmpa/pack.yaml: rule {data['rules'][0]['id']}: effect 'halt' is not an effect")


def test_a_key_given_twice_is_refused(tmp_path: Path) -> None:
    folder = copy_pack(tmp_path)
    text = (folder / "pack.yaml").read_text(encoding="utf-8")
    (folder / "pack.yaml").write_text(text.replace("title: NMPA", "title: X\ntitle: NMPA", 1),
                                      encoding="utf-8")
    with pytest.raises(PackError, match=r"rules/nmpa/pack\.yaml: is not valid YAML: .*'title' is "
                                        r"given twice"):
        load_pack(folder)


def test_missing_files_and_bad_names(tmp_path: Path) -> None:
    folder = copy_pack(tmp_path)
    (folder / "cases.yaml").unlink()
    with pytest.raises(PackError, match=r"rules/nmpa/cases\.yaml: no such file"):
        load_pack(folder)
    with pytest.raises(PackError, match="no such file"):
        load_pack("nowhere", rules_root=tmp_path / "rules")
    with pytest.raises(PackError, match="is not a pack name"):
        load_pack("NMPA pack")
