"""A person logs in to GxPFlow in a browser, sees the system status and switches to Chinese."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.factories import PASSWORD

pytestmark = pytest.mark.e2e


def log_in(page: Any, base: str, username: str, password: str = PASSWORD) -> None:
    page.goto(base + "/")
    page.get_by_label("User name").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(base + "/")


def test_log_in_home_page_and_language_switch(
    live_server: str, page: Any, screenshot: Any, make_user: Any
) -> None:
    make_user("wendy", "auditor", full_name="Wendy Xu 徐")
    page.goto(live_server + "/")
    assert "/auth/login" in page.url
    page.get_by_label("User name").fill("wendy")
    page.get_by_label("Password").fill("wrong-password-1")
    page.get_by_role("button", name="Log in").click()
    assert "The user name or password is wrong." in page.locator(".flash.error").inner_text()
    log_in(page, live_server, "wendy")
    assert page.locator("h1").inner_text() == "Welcome to GxPFlow"
    assert "Wendy Xu 徐" in page.locator(".user").inner_text()
    assert "reachable" in page.locator("dl.status").inner_text()
    page.get_by_role("link", name="中文").click()
    page.wait_for_url(live_server + "/")
    assert page.locator("h1").inner_text() == "欢迎使用 GxPFlow"
    assert page.locator("html").get_attribute("lang") == "zh-CN"
    screenshot("home-zh")
    page.get_by_role("button", name="退出").click()
    assert "/auth/login" in page.url
