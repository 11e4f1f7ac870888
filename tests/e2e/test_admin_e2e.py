"""An administrator, in a browser, creates a user, records their training and grants a role."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest

from tests.e2e.test_shell import log_in

pytestmark = pytest.mark.e2e


def test_admin_creates_a_user_records_training_and_grants_a_role(
    live_server: str, page: Any, screenshot: Any, make_user: Any
) -> None:
    make_user("rosa", "administrator", full_name="Rosa Admin")
    log_in(page, live_server, "rosa")
    page.get_by_role("link", name="Administration").click()
    page.get_by_role("link", name="New user").click()
    page.get_by_label("User name").fill("zhao.lei")
    page.get_by_label("Printed name").fill("Zhao Lei 赵磊")
    page.get_by_label("E-mail").fill("zhao.lei@example.com")
    page.get_by_label("Temporary password").fill("Welcome-2026-x")
    page.get_by_role("button", name="Create user").click()
    assert page.locator("h1").inner_text().startswith("Zhao Lei 赵磊")
    assert "User zhao.lei created." in page.locator(".flash").inner_text()

    # Granting before training is refused, with what to do about it.
    page.get_by_label("Grant a role").select_option("inspector")
    page.get_by_role("button", name="Grant role").click()
    refusal = page.locator(".flash.error").inner_text()
    assert "no valid training record for the role Inspector" in refusal
    assert "Record the training first" in refusal

    trained = date.today() - timedelta(days=2)
    page.get_by_label("Role", exact=True).select_option("inspector")
    page.get_by_label("Trained on").fill(trained.isoformat())
    page.get_by_label("Expires on").fill((trained + timedelta(days=365)).isoformat())
    page.get_by_label("Evidence").fill("GSP inspection course, certificate C-2026-118")
    page.get_by_role("button", name="Record training").click()
    assert "Training for Inspector recorded." in page.locator(".flash").inner_text()
    assert "certificate C-2026-118" in page.locator("table").nth(1).inner_text()

    page.get_by_label("Grant a role").select_option("inspector")
    page.get_by_role("button", name="Grant role").click()
    assert "Role Inspector granted to Zhao Lei 赵磊." in page.locator(".flash").inner_text()
    roles_table = page.locator("table").first.inner_text()
    assert "Inspector" in roles_table and "In force" in roles_table
    assert "role.grant" in page.locator("table").nth(2).inner_text()
    screenshot("admin-user")

    page.get_by_role("link", name="Users").click()
    page.get_by_label("Search").fill("赵磊")
    page.get_by_role("button", name="Search").click()
    assert "zhao.lei" in page.locator("table").inner_text()
    screenshot("admin-users")

    # The change is on the audit trail, and the chain verifies.
    page.get_by_role("link", name="Audit trail").click()
    page.get_by_label("Action").fill("role.grant")
    page.get_by_role("button", name="Filter").click()
    row = page.locator("table.trail tbody tr").first
    assert "Rosa Admin" in row.inner_text()
    row.get_by_text("Show").click()
    assert "inspector" in row.locator("table.changes").inner_text()
    page.get_by_role("button", name="Verify chain").click()
    assert "the chain is intact" in page.locator("#verify-result").inner_text()
    page.locator("table.trail tbody tr").first.get_by_text("Show").click()
    screenshot("audit-trail")

    # The same user's page in Chinese.
    page.get_by_role("link", name="中文").click()
    page.get_by_role("link", name="系统管理").click()
    page.get_by_role("link", name="zhao.lei").click()
    assert "培训记录" in page.locator("main").inner_text()
    screenshot("admin-user-zh")
