"""A Chinese warehouse operator reads the ledger's refusals in Chinese: a second count of a
location, a logger file without its columns, a trace of a serial the ledger never saw."""

from __future__ import annotations

import io
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from engine import demo
from engine.db import db
from engine.identity import roles
from engine.ledger import service as ledger
from engine.masterdata import service as md
from tests.support.web import csrf_token, login, submit


def text(response: Any) -> str:
    return str(response.get_data(as_text=True))


@pytest.fixture
def otto(app: Flask, client: FlaskClient, make_user: Any) -> FlaskClient:
    """The demo's stock, and a warehouse operator logged in who reads Chinese."""
    with app.app_context():
        demo.seed_masterdata()
        demo.seed_stock()
        db.session.commit()
    make_user("otto", roles.WAREHOUSE_OPERATOR, full_name="Otto Chen 陈")
    client.set_cookie("gxpflow_locale", "zh")
    login(client, "otto")
    return client


def test_a_second_count_of_a_location_is_refused_in_chinese(app: Flask, otto: FlaskClient) -> None:
    with app.app_context():
        room = md.get_location("SH", "A-01")
        room_id, label = room.id, room.label
    assert submit(otto, "/ledger/counts", {"location_id": str(room_id)}).status_code == 302
    again = submit(otto, "/ledger/counts", {"location_id": str(room_id)}, follow_redirects=True)
    assert f"库位 {label} 已有进行中的盘点单。" in text(again)


def test_a_logger_file_without_its_columns_is_refused_in_chinese(app: Flask,
                                                                 otto: FlaskClient) -> None:
    with app.app_context():
        cold_room = md.get_location("SH", "A-COLD").id
    token = csrf_token(otto, "/ledger/temperatures")
    refused = otto.post("/ledger/temperatures", content_type="multipart/form-data", data={
        "csrf_token": token, "file": (io.BytesIO(b"when,reading\n2026-03-01T08:00+08:00,4\n"),
                                      "logger.csv"),
        "subject": "location", "location_id": str(cold_room)})
    page = text(refused)
    assert refused.status_code == 422
    assert "CSV 文件须有表头，包含时间列（recorded_at）和温度列（celsius）。" in page
    assert "缺少列。" in page
    binary = otto.post("/ledger/temperatures", content_type="multipart/form-data", data={
        "csrf_token": token, "file": (io.BytesIO(b"recorded_at,celsius,sensor\n"
                                                 b"2026-03-01T08:00+08:00,4,S\x001\n"),
                                      "logger.csv"),
        "subject": "location", "location_id": str(cold_room)})
    assert binary.status_code == 422, "a NUL is refused, not left to fail in the database"
    assert "文件含有 NUL 字符，不是 CSV 文本文件。" in text(binary)
    assert "不是 CSV 文本文件。" in text(binary)


def test_a_serial_the_ledger_never_saw_is_refused_in_chinese(app: Flask,
                                                             otto: FlaskClient) -> None:
    with app.app_context():
        thermo = md.get_product("THERMO-MT201")
        lot_id = ledger.get_lot(thermo, "T231101").id
    refused = otto.get(f"/ledger/lots/{lot_id}?serial=NOPE-1")
    assert refused.status_code == 404
    assert "库存台账中没有 THERMO-MT201 的序列号 NOPE-1。" in text(refused)
