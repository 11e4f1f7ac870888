"""A Chinese quality manager reads the recall refusals in Chinese: a lot never received, a recall
that does not exist, and a close the active pack refuses (the pack's own Chinese)."""

from __future__ import annotations

from typing import Any

from flask import Flask
from flask.testing import FlaskClient

from engine.recall import service as recalls
from engine.rules.decision import Verdict
from tests.integration.ledger.world import build_world
from tests.support.web import login, submit
from web.i18n import refusal

START = {"product": "06901234000023", "level": "I", "reason": "Wrong calibration",
         "source": "Manufacturer notice MN-7", "confirm": "y"}


def text(response: Any) -> str:
    return str(response.get_data(as_text=True))


def test_recall_refusals_read_in_chinese(app: Flask, client: FlaskClient,
                                         make_user: Any) -> None:
    with app.app_context():
        build_world(make_user)
    client.set_cookie("gxpflow_locale", "zh")
    login(client, "qm")
    unknown = submit(client, "/recalls/new", dict(START, lots="NOPE"))
    assert "06901234000023 的批号 NOPE 没有收货记录。" in text(unknown)
    assert "未知批号：NOPE。" in text(unknown), "the field names its problem in Chinese too"
    assert "was ever received" not in text(unknown)
    missing = client.get("/recalls/424242")
    assert missing.status_code == 404
    assert "召回 424242 不存在。" in text(missing)


def test_a_refused_close_carries_the_packs_chinese(app: Flask) -> None:
    verdict = Verdict(rule_id="nmpa-recall-close", effect="block", params={},
                      message_zh="尚有客户未通知，不能关闭召回。",
                      message_en="Customers are not yet notified; the recall cannot close.",
                      source="GSP", pack_id="nmpa", pack_version="1")
    blocked = recalls.CloseBlocked([verdict])
    with app.test_request_context(headers={"Accept-Language": "zh-CN"}):
        assert refusal(blocked) == "尚有客户未通知，不能关闭召回。"
    with app.test_request_context(headers={"Accept-Language": "en"}):
        assert refusal(blocked) == "Customers are not yet notified; the recall cannot close."
