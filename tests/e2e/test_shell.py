"""A person opens GxPFlow in a browser, sees the system status and switches to Chinese."""

from __future__ import annotations

from typing import Any

import pytest

pytestmark = pytest.mark.e2e


def test_home_page_and_language_switch(live_server: str, page: Any, screenshot: Any) -> None:
    page.goto(live_server + "/")
    assert page.locator("h1").inner_text() == "Welcome to GxPFlow"
    assert "reachable" in page.locator("dl.status").inner_text()
    page.get_by_role("link", name="中文").click()
    page.wait_for_url(live_server + "/")
    assert page.locator("h1").inner_text() == "欢迎使用 GxPFlow"
    assert page.locator("html").get_attribute("lang") == "zh-CN"
    screenshot("home-zh")
