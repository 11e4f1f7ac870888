"""One Chinese word per English term across the app, and context keys for the homonyms."""

from __future__ import annotations

import pytest
from flask import Flask

from web import create_app
from web.i18n import CATALOG, add_messages, translate


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Flask:
    # every feature's messages are registered once the app is built
    return create_app({"mode": "testing", "database_url": "sqlite://",
                       "instance_path": str(tmp_path_factory.mktemp("catalog"))})


def test_a_term_translated_differently_twice_is_refused(app: Flask) -> None:
    before = dict(CATALOG["zh"])
    with pytest.raises(ValueError, match="Open"):
        add_messages({"Open": "进行中"})  # the inbox's button already reads 打开
    add_messages({"Open": CATALOG["zh"]["Open"]})  # the same translation again is fine
    assert CATALOG["zh"] == before


def test_homonyms_read_by_their_context(app: Flask) -> None:
    with app.test_request_context(headers={"Accept-Language": "zh-CN"}):
        assert translate("Open") == "打开"
        assert translate("open") == "进行中"  # a recall, a count sheet
        assert translate("open", context="task") == "待办"
        assert translate("Approved") == "已批准"  # a review's outcome
        assert translate("Approved", context="meaning") == "批准"  # what a signature means
        assert translate("closed", context="task") == translate("closed")  # no context key
    with app.test_request_context(headers={"Accept-Language": "en"}):
        assert translate("open", context="task") == "open"


def test_every_literal_text_of_the_templates_has_its_chinese(app: Flask) -> None:
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parents[2] / "web"
    literal = re.compile(r"""_\(\s*(?:"((?:[^"\\]|\\.)*)"|'((?:[^'\\]|\\.)*)')""")
    missing = sorted(
        f"{template.relative_to(root)}: {double or single}"
        for template in root.rglob("templates/**/*.html")
        for double, single in literal.findall(template.read_text(encoding="utf-8"))
        if (double or single) not in CATALOG["zh"])
    assert missing == []


def test_a_text_made_at_run_time_carries_its_chinese(app: Flask) -> None:
    from engine.errors import Bilingual

    problem = Bilingual("The webhook address 10.0.0.5 is on an internal network.",
                        "回调地址 10.0.0.5 位于内部网络。")
    with app.test_request_context(headers={"Accept-Language": "zh-CN"}):
        assert translate(problem) == "回调地址 10.0.0.5 位于内部网络。"
    with app.test_request_context(headers={"Accept-Language": "en"}):
        assert translate(problem) == "The webhook address 10.0.0.5 is on an internal network."


def test_a_refusal_is_shown_in_the_users_language(app: Flask) -> None:
    from engine.errors import Conflict, NotAuthenticated
    from web.i18n import refusal

    carries = Conflict("This lot is under recall.", zh="该批次正在召回。")
    catalogued = NotAuthenticated("The user name or password is wrong.")
    neither = Conflict("Something only said in English.")
    with app.test_request_context(headers={"Accept-Language": "zh-CN"}):
        assert refusal(carries) == "该批次正在召回。"
        assert refusal(catalogued) == "用户名或密码错误。"
        assert refusal(neither) == "Something only said in English."
    with app.test_request_context(headers={"Accept-Language": "en"}):
        assert refusal(carries) == "This lot is under recall."


def test_a_bilingual_text_keeps_its_chinese_when_copied_or_pickled() -> None:
    """Refusals travel: deep-copied by SpiffWorkflow, pickled into Celery messages."""
    import copy
    import pickle

    from engine.errors import Bilingual

    text = Bilingual("Lot L1 is held.", "批号 L1 已冻结。")
    for copied in (copy.copy(text), copy.deepcopy(text), pickle.loads(pickle.dumps(text))):
        assert isinstance(copied, Bilingual)
        assert (str(copied), copied.zh) == ("Lot L1 is held.", "批号 L1 已冻结。")


def test_quarantined_stock_and_the_gate_s_quarantine_read_apart(app: Flask) -> None:
    """GSP's 待验 is the stock status; 隔离 is what a rule's quarantine effect does."""
    with app.test_request_context(headers={"Accept-Language": "zh-CN"}):
        assert translate("quarantine") == "待验"
        assert translate("quarantine", context="effect") == "隔离"
        assert translate("block", context="effect") == translate("block")


@pytest.mark.parametrize("module", ["web.ledger.messages", "web.masterdata.messages"])
def test_a_feature_s_own_words_are_the_words_shown(app: Flask, module: str) -> None:
    """These features add only the words the catalog lacks; a word already there with another
    Chinese would be shown with the other feature's meaning (as quarantine once was)."""
    import importlib

    own = importlib.import_module(module).ZH
    assert {english: CATALOG["zh"][english] for english in own} == own


def test_a_recorded_choice_reads_as_its_form_offered_it(app: Flask) -> None:
    """History shows an enum's value by its option's label (partially_accepted -> 部分合格)."""
    from engine.workflow.forms import parse_form
    from engine.workflow.tasks import _with_options
    from web.i18n import field_value

    form = parse_form('{"fields": [{"name": "conclusion", "type": "enum", "label": {"en": '
                      '"Conclusion", "zh": "验收结论"}, "options": [{"value": "accepted", '
                      '"label": {"en": "Accepted", "zh": "合格"}}, {"value": "partially_accepted",'
                      ' "label": {"en": "Partly accepted", "zh": "部分合格"}}]}, {"name": "note", '
                      '"type": "str"}]}')
    labels = {field.name: _with_options(field) for field in form.fields}
    with app.test_request_context(headers={"Accept-Language": "zh-CN"}):
        assert field_value("partially_accepted", "conclusion", labels) == "部分合格"
        assert field_value(["accepted", "partially_accepted"], "conclusion", labels) == (
            "合格; 部分合格")
        assert field_value("accepted", "note", labels) == "accepted", "free text stays as typed"
        assert field_value(None, "conclusion", labels) == "—"
    with app.test_request_context(headers={"Accept-Language": "en"}):
        assert field_value("partially_accepted", "conclusion", labels) == "Partly accepted"


def test_a_handler_s_record_names_its_keys_in_chinese(app: Flask) -> None:
    from web.i18n import readable

    record = {"lot": "T260101", "quantity": 2, "location": "NC-01", "_internal": 1, "odd_key": 3}
    with app.test_request_context(headers={"Accept-Language": "zh-CN"}):
        assert readable(record) == "批号: T260101 · 数量: 2 · 货位: NC-01 · odd_key: 3"
    with app.test_request_context(headers={"Accept-Language": "en"}):
        assert readable(record) == "lot: T260101 · quantity: 2 · location: NC-01 · odd_key: 3"
