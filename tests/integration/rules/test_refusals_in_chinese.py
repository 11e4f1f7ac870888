"""A Chinese compliance officer reads the rule-pack store's refusals in Chinese: an upload that
is not a zip, switching off a pack that is not active. (The rule files' own syntax refusals stay
English, for the officers who write them.)"""

from __future__ import annotations

import io
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from engine.db import db
from engine.rules import store
from tests.integration.rules.conftest import CLI, make_sites
from tests.support.factories import PASSWORD
from tests.support.web import csrf_token, login, submit


def text(response: Any) -> str:
    return str(response.get_data(as_text=True))


@pytest.fixture
def sarah(app: Flask, client: FlaskClient, make_user: Any) -> FlaskClient:
    with app.app_context():
        make_sites()
        store.import_shipped(CLI)
        db.session.commit()
    make_user("sarah", "compliance_officer", full_name="Sarah Miller")
    client.set_cookie("gxpflow_locale", "zh")
    login(client, "sarah")
    return client


def test_an_upload_that_is_not_a_zip_is_refused_in_chinese(sarah: FlaskClient) -> None:
    token = csrf_token(sarah, "/rules/")
    refused = sarah.post("/rules/upload", content_type="multipart/form-data", data={
        "csrf_token": token, "archive": (io.BytesIO(b"not a zip at all"), "nmpa.zip")})
    assert refused.status_code == 422
    assert "upload nmpa.zip：不是 zip 文件。" in text(refused)


def test_switching_off_a_pack_not_active_is_refused_in_chinese(sarah: FlaskClient) -> None:
    page = submit(sarah, "/rules/sites/SH/packs/nmpa/deactivate",
                  {"reason": "Moving to the 2025 pack", "username": "sarah",
                   "password": PASSWORD}, form_url="/rules/history", follow_redirects=True)
    assert "nmpa 未在 SH 启用。" in text(page)
