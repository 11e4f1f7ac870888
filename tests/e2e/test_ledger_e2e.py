"""A warehouse clerk scans a UDI label into the stock page's scan box, as a keyboard-wedge
scanner types it, and lands on the lot page with its backward and forward trace."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask

from engine import demo
from engine.db import db
from engine.identity import roles
from tests.support.factories import PASSWORD

pytestmark = pytest.mark.e2e

#: What a wedge scanner set to type GS as "|" sends for the gel implant's label.
WEDGE_SCAN = "]d2010690123400001610HA2409A|21QY000001"


def test_scan_a_label_and_read_the_lot_trace(
    app: Flask, live_server: str, page: Any, screenshot: Any, make_user: Any
) -> None:
    with app.app_context():
        demo.seed_masterdata()
        demo.seed_stock()
        db.session.commit()
    make_user("wei", roles.RECEIVING_CLERK, full_name="Wei Zhang 张伟")

    page.goto(live_server + "/ledger/")
    page.get_by_label("User name").fill("wei")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(live_server + "/ledger/")
    assert page.locator("h1").first.inner_text().startswith("Stock")
    screenshot("ledger-stock")

    scan_box = page.locator("#scan")
    assert scan_box.evaluate("el => el === document.activeElement")  # ready for the scanner
    scan_box.press_sequentially("]d20106901234000017|10HA2409A")
    scan_box.press("Enter")
    page.wait_for_url("**/ledger/scan?**")
    assert "check digit" in page.locator("#scan-error").inner_text()
    screenshot("ledger-scan-error")

    page.locator("#scan").fill("")
    page.locator("#scan").press_sequentially(WEDGE_SCAN)
    page.locator("#scan").press("Enter")
    page.wait_for_url("**/ledger/lots/**")
    assert "HA2409A" in page.locator("h1").inner_text()
    backward = page.locator("#backward + table")
    forward = page.locator("#forward + table")
    assert "GR-SH-0001" in backward.inner_text()
    assert "Inspection passed" in backward.inner_text()
    assert "上海仁康康复医院" in forward.inner_text()
    assert "QY000001" in forward.inner_text()
    assert "QY000002" not in forward.inner_text()  # the page traces the scanned serial
    screenshot("ledger-lot-serial")

    page.get_by_role("link", name="(whole lot)").click()
    page.wait_for_url("**/ledger/lots/*")
    assert "QY000002" in page.locator("#forward + table").inner_text()
    screenshot("ledger-lot")
