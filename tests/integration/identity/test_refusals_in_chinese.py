"""A Chinese user reads the identity refusals in Chinese: a refused log-in, a page their roles do
not open, an administrator's refused role grant and a password the policy refuses."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from engine.db import db
from engine.identity import roles
from engine.identity import service as identity
from tests.support.factories import PASSWORD
from tests.support.web import login, submit


def text(response: Any) -> str:
    return str(response.get_data(as_text=True))


@pytest.fixture
def chinese(client: FlaskClient) -> FlaskClient:
    client.set_cookie("gxpflow_locale", "zh")
    return client


def test_a_deactivated_account_is_refused_in_chinese(app: Flask, chinese: FlaskClient,
                                                     make_user: Any) -> None:
    make_user("carl", roles.RECEIVING_CLERK)
    with app.app_context():
        carl = identity.find_user("carl")
        assert carl is not None
        carl.active = False
        db.session.commit()
    refused = submit(chinese, "/auth/login", {"username": "carl", "password": PASSWORD})
    assert refused.status_code == 401
    assert "此账户已停用，请联系系统管理员。" in text(refused)


def test_a_page_the_role_does_not_open_says_why_in_chinese(chinese: FlaskClient,
                                                         make_user: Any) -> None:
    make_user("clara", roles.RECEIVING_CLERK, full_name="Clara Wu")
    login(chinese, "clara")
    refused = chinese.get("/admin/users/new")
    assert refused.status_code == 403
    assert ("Clara Wu 无权执行此操作（users.manage），需要以下角色之一：系统管理员。"
            in text(refused))


def test_a_role_is_not_granted_to_a_deactivated_user_in_chinese(app: Flask, chinese: FlaskClient,
                                                               make_user: Any) -> None:
    make_user("root", roles.ADMINISTRATOR)
    make_user("carl", roles.RECEIVING_CLERK)
    with app.app_context():
        carl = identity.find_user("carl")
        assert carl is not None
        carl.active = False
        carl_id = carl.id
        db.session.commit()
    login(chinese, "root")
    page = submit(chinese, f"/admin/users/{carl_id}/roles", {"role": roles.INSPECTOR},
                  form_url=f"/admin/users/{carl_id}", follow_redirects=True)
    assert "用户 carl 已停用：请先重新启用该用户。" in text(page)
    assert "is deactivated" not in text(page)


def test_a_weak_password_is_refused_field_by_field_in_chinese(chinese: FlaskClient,
                                                             make_user: Any) -> None:
    make_user("root", roles.ADMINISTRATOR)
    login(chinese, "root")
    refused = submit(chinese, "/admin/users/new", {
        "username": "newbie", "full_name": "New Bie", "password": "short"})
    page = text(refused)
    assert "密码不符合密码策略。" in page
    assert "密码须至少 10 个字符、同时包含字母和数字。" in page
    assert "The password needs" not in page
