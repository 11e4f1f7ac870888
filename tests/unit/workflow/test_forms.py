"""Task forms: a clear refusal for a malformed spec; posted strings coerced or refused per field,
with reasons in English and Chinese."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.errors import InvalidInput
from engine.workflow.forms import FormInvalid, FormSpec, FormSpecInvalid, parse_form

INSPECTION: dict[str, Any] = {
    "fields": [
        {"name": "conclusion", "type": "enum", "options": ["accepted", "rejected"],
         "required": True, "label": {"en": "Conclusion", "zh": "验收结论"}},
        {"name": "accepted_qty", "type": "int", "min": 0, "max": 10000},
        {"name": "unit_price", "type": "decimal", "min": "0.01"},
        {"name": "sealed", "type": "bool"},
        {"name": "confirmed", "type": "bool", "required": True},
        {"name": "expiry", "type": "date", "min": "2020-01-01"},
        {"name": "measured_at", "type": "datetime"},
        {"name": "udi", "type": "gs1"},
        {"name": "serials", "type": "list", "max": 3, "pattern": "[A-Z0-9-]+"},
        {"name": "remarks", "type": "text", "max_length": 20},
        {"name": "batch", "type": "str", "pattern": "L[0-9]{3}",
         "help": {"en": "Lot", "zh": "批号"}},
    ]
}
UDI = "(01)09501101530003(17)261231(10)LOT42"


@pytest.fixture
def form() -> FormSpec:
    return parse_form(json.dumps(INSPECTION))


def valid_post(**changes: Any) -> dict[str, Any]:
    post: dict[str, Any] = {
        "conclusion": "accepted", "accepted_qty": "12", "unit_price": "3.50", "sealed": "on",
        "confirmed": "true", "expiry": "2027-06-30", "measured_at": "2024-05-01T14:30:00+08:00",
        "udi": UDI, "serials": "SN-1\nSN-2", "remarks": " fine ", "batch": "L042",
    }
    post.update(changes)
    return {key: value for key, value in post.items() if value is not None}


def errors_of(form: FormSpec, post: dict[str, Any], **kwargs: Any) -> dict[str, dict[str, str]]:
    with pytest.raises(FormInvalid) as caught:
        form.validate(post, **kwargs)
    return caught.value.errors


def test_posted_strings_come_back_typed(form: FormSpec) -> None:
    values = form.validate(valid_post())
    assert values == {
        "conclusion": "accepted", "accepted_qty": 12, "unit_price": Decimal("3.50"),
        "sealed": True, "confirmed": True, "expiry": date(2027, 6, 30),
        "measured_at": datetime(2024, 5, 1, 6, 30, tzinfo=UTC), "udi": UDI,
        "serials": ["SN-1", "SN-2"], "remarks": "fine", "batch": "L042",
    }


def test_api_json_values_are_accepted_too(form: FormSpec) -> None:
    values = form.validate(valid_post(accepted_qty=12, unit_price=3.5, sealed=False,
                                      confirmed=True, serials=["A", "B"], expiry=date(2027, 1, 1)))
    assert values["accepted_qty"] == 12
    assert values["unit_price"] == Decimal("3.5")
    assert values["sealed"] is False
    assert values["serials"] == ["A", "B"]


def test_missing_optional_fields_are_present_as_empty(form: FormSpec) -> None:
    values = form.validate({"conclusion": "rejected", "confirmed": "yes", "remarks": "   "})
    assert values["accepted_qty"] is None
    assert values["remarks"] is None
    assert values["sealed"] is False
    assert values["serials"] == []


def test_each_bad_field_gets_a_reason_in_english_and_chinese(form: FormSpec) -> None:
    errors = errors_of(form, valid_post(
        conclusion="maybe", accepted_qty="-1", unit_price="abc", sealed="perhaps",
        confirmed="no", expiry="2019-12-31", measured_at="yesterday", udi="12345",
        serials="ok-1, bad item", remarks="x" * 21, batch="L1", colour="red",
    ))
    assert errors == {
        "conclusion": {"en": "Choose one of: accepted, rejected.",
                       "zh": "请从以下选项中选择：accepted、rejected。"},
        "accepted_qty": {"en": "Must be at least 0.", "zh": "不能小于 0。"},
        "unit_price": {"en": "Enter a number.", "zh": "请输入数字。"},
        "sealed": {"en": "Answer yes or no.", "zh": "请选择是或否。"},
        "confirmed": {"en": "This must be confirmed.", "zh": "此项必须确认。"},
        "expiry": {"en": "Must be at least 2020-01-01.", "zh": "不能小于 2020-01-01。"},
        "measured_at": {
            "en": "Enter a date and time with its time zone, e.g. 2024-05-01T14:30+08:00.",
            "zh": "请输入带时区的日期时间，例如 2024-05-01T14:30+08:00。"},
        "udi": {"en": "This is not a GS1 barcode (GTIN, SSCC, GS1 element string or Digital "
                      "Link).",
                "zh": "这不是有效的 GS1 条码（GTIN、SSCC、GS1 元素串或数字链接）。"},
        "serials": {"en": "Does not have the expected format.", "zh": "格式不正确。"},
        "remarks": {"en": "Must be at most 20 characters.", "zh": "不能超过 20 个字符。"},
        "batch": {"en": "Does not have the expected format.", "zh": "格式不正确。"},
        "colour": {"en": "Unknown field.", "zh": "未知字段。"},
    }


def test_the_error_is_an_invalid_input_with_english_fields(form: FormSpec) -> None:
    with pytest.raises(InvalidInput) as caught:
        form.validate(valid_post(conclusion=None, accepted_qty="12.5"))
    error = caught.value
    assert isinstance(error, FormInvalid)
    assert error.status == 422
    assert error.fields == {"conclusion": "This field is required.",
                            "accepted_qty": "Enter a whole number."}
    assert error.messages("zh")["conclusion"] == "此项为必填项。"
    assert "accepted_qty, conclusion" in error.message


@pytest.mark.parametrize("value", ["1e3", "0x10", "", "1.5", True, [1], "١٢"])
def test_integers_are_whole_numbers_only(value: Any) -> None:
    form = parse_form('{"fields": [{"name": "n", "type": "int", "required": true}]}')
    with pytest.raises(FormInvalid):
        form.validate({"n": value})


@pytest.mark.parametrize("value", ["NaN", "Infinity", "-inf", "1e999999", True])
def test_decimals_are_finite_numbers(value: Any) -> None:
    form = parse_form('{"fields": [{"name": "d", "type": "decimal"}]}')
    with pytest.raises(FormInvalid):
        form.validate({"d": value})


def test_a_naive_datetime_takes_the_persons_zone_when_given() -> None:
    form = parse_form('{"fields": [{"name": "at", "type": "datetime", "required": true}]}')
    shanghai = timezone(timedelta(hours=8))
    assert form.validate({"at": "2024-05-01T14:30"}, tz=shanghai) == {
        "at": datetime(2024, 5, 1, 6, 30, tzinfo=UTC)}
    assert form.validate({"at": "2024-05-01T06:30Z"}) == {"at": datetime(2024, 5, 1, 6, 30,
                                                                          tzinfo=UTC)}
    with pytest.raises(FormInvalid):
        form.validate({"at": "2024-05-01T14:30"})


def test_a_date_field_refuses_a_datetime() -> None:
    form = parse_form('{"fields": [{"name": "on", "type": "date"}]}')
    with pytest.raises(FormInvalid):
        form.validate({"on": datetime(2024, 1, 1, tzinfo=UTC)})


@pytest.mark.parametrize("scan", [
    "09501101530003",                                  # GTIN-14
    "376130321109103420",                              # SSCC
    "010950110153000317261231\x1d10LOT42",             # GS1 DataMatrix with FNC1 separator
    "https://id.gs1.org/01/09501101530003/10/LOT42",   # Digital Link
    UDI,                                               # human-readable form
])
def test_gs1_scans_are_accepted(scan: str) -> None:
    form = parse_form('{"fields": [{"name": "udi", "type": "gs1"}]}')
    assert form.validate({"udi": scan}) == {"udi": scan}


@pytest.mark.parametrize("scan", ["0109501101530004", "hello", "12345", "0950110153000\x00"])
def test_bad_gs1_scans_are_refused(scan: str) -> None:
    form = parse_form('{"fields": [{"name": "udi", "type": "gs1"}]}')
    with pytest.raises(FormInvalid):
        form.validate({"udi": scan})


def test_list_fields_take_lines_or_lists_and_check_each_item() -> None:
    form = parse_form(json.dumps({"fields": [
        {"name": "zones", "type": "list", "options": ["A", "B"], "min": 1}]}))
    assert form.validate({"zones": "A,B\n"}) == {"zones": ["A", "B"]}
    assert errors_of(form, {"zones": ["A", "C"]})["zones"]["en"] == (
        "Each value must be one of: A, B.")
    assert errors_of(form, {"zones": []})["zones"]["en"] == "Enter at least 1 values."
    assert errors_of(form, {"zones": [1]})["zones"]["en"] == "Enter a list of values."


def test_enum_options_show_their_labels_in_each_language() -> None:
    form = parse_form(json.dumps({"fields": [{"name": "decision", "type": "enum", "options": [
        {"value": "return", "label": {"en": "Return", "zh": "退回"}},
        {"value": "destroy", "label": {"en": "Destroy", "zh": "销毁"}}]}]}))
    errors = errors_of(form, {"decision": "keep"})
    assert errors["decision"] == {"en": "Choose one of: Return, Destroy.",
                                  "zh": "请从以下选项中选择：退回、销毁。"}


def test_data_that_is_not_a_mapping_is_refused(form: FormSpec) -> None:
    assert "(form)" in errors_of(form, ["conclusion"])  # type: ignore[arg-type]


def test_the_spec_round_trips_as_plain_json(form: FormSpec) -> None:
    body = form.to_dict()
    assert body["fields"][0]["label"] == {"en": "Conclusion", "zh": "验收结论"}
    assert body["fields"][2]["min"] == "0.01"
    assert body["fields"][5]["min"] == "2020-01-01"
    assert parse_form(json.dumps(body)).to_dict() == body
    assert parse_form(form) is form


MALFORMED = [
    ("", "empty"),
    ("{", "not valid JSON"),
    ("[]", 'one key, "fields"'),
    ('{"fields": {}}', "must be a list"),
    ('{"fields": [], "extra": 1}', 'one key, "fields"'),
    ('{"fields": [1]}', "must be a JSON object"),
    ('{"fields": [{"type": "str"}]}', "lower-case identifier"),
    ('{"fields": [{"name": "Bad Name", "type": "str"}]}', "lower-case identifier"),
    ('{"fields": [{"name": "class", "type": "str"}]}', "lower-case identifier"),
    ('{"fields": [{"name": "date", "type": "str"}]}', "scripts already use"),
    ('{"fields": [{"name": "a", "type": "money"}]}', "the type must be one of"),
    ('{"fields": [{"name": "a", "type": "str"}, {"name": "a", "type": "int"}]}', "used twice"),
    ('{"fields": [{"name": "a", "type": "enum"}]}', "needs a list of options"),
    ('{"fields": [{"name": "a", "type": "enum", "options": []}]}', "non-empty list"),
    ('{"fields": [{"name": "a", "type": "enum", "options": ["x", "x"]}]}', "repeat"),
    ('{"fields": [{"name": "a", "type": "enum", "options": [" x"]}]}', "trimmed"),
    ('{"fields": [{"name": "a", "type": "int", "min": "one"}]}', "not a valid int bound"),
    ('{"fields": [{"name": "a", "type": "int", "min": 5, "max": 1}]}', "greater than max"),
    ('{"fields": [{"name": "a", "type": "date", "max": "31/12/2024"}]}', "not a valid date"),
    ('{"fields": [{"name": "a", "type": "datetime", "min": "2024-01-01T00:00"}]}', "datetime"),
    ('{"fields": [{"name": "a", "type": "str", "min": 1}]}', "min not allowed for str"),
    ('{"fields": [{"name": "a", "type": "bool", "pattern": "x"}]}', "pattern not allowed"),
    ('{"fields": [{"name": "a", "type": "str", "pattern": "("}]}', "does not compile"),
    ('{"fields": [{"name": "a", "type": "str", "max_length": 0}]}', "positive whole number"),
    ('{"fields": [{"name": "a", "type": "str", "required": "yes"}]}', "true or false"),
    ('{"fields": [{"name": "a", "type": "str", "label": {"fr": "x"}}]}', "label must be text"),
    ('{"fields": [{"name": "a", "type": "str", "colour": "red"}]}', "colour not allowed"),
]


@pytest.mark.parametrize(("text", "reason"), MALFORMED, ids=[t for t, _ in MALFORMED])
def test_malformed_specs_are_refused_with_a_reason(text: str, reason: str) -> None:
    with pytest.raises(FormSpecInvalid) as caught:
        parse_form(text)
    assert reason in caught.value.message


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner,
                                                                  max_size=4),
    max_leaves=12,
)


@settings(max_examples=150, deadline=None)
@given(st.dictionaries(st.sampled_from(["name", "type", "required", "options", "min", "max",
                                        "max_length", "pattern", "label", "help"]),
                       JSON | st.sampled_from(sorted(["str", "int", "enum", "list", "date"]))))
def test_any_field_spec_parses_or_is_refused_cleanly(raw: dict[str, Any]) -> None:
    try:
        form = parse_form(json.dumps({"fields": [raw]}))
    except FormSpecInvalid:
        return
    assert form.fields[0].name == raw["name"]


@settings(max_examples=150, deadline=None)
@given(st.dictionaries(st.sampled_from([f["name"] for f in INSPECTION["fields"]] + ["x"]), JSON))
def test_any_posted_data_validates_or_is_refused_cleanly(post: dict[str, Any]) -> None:
    form = parse_form(json.dumps(INSPECTION))
    try:
        values = form.validate(post)
    except FormInvalid as err:
        assert err.errors and all(set(text) == {"en", "zh"} for text in err.errors.values())
        return
    assert set(values) == set(form.names)


def test_a_blank_field_is_declared_with_true_or_false_only() -> None:
    spec = parse_form('{"fields": [{"name": "scans", "type": "list", "blank": true}]}')
    assert spec.fields[0].blank is True
    with pytest.raises(FormSpecInvalid, match="blank must be true or false"):
        parse_form('{"fields": [{"name": "scans", "type": "list", "blank": "yes"}]}')
