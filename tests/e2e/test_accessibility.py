"""In a browser, on the demo's data: the main pages, in English and in Chinese, pass axe-core's
WCAG 2 A and AA rules with no serious or critical violation, and say which language they are in.

axe-core is a test-time tool from the npm registry, installed by `make setup-test`
(bin/setup-axe) into tests/e2e/node_modules; without it these tests are skipped."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from engine.demo import DEMO_PASSWORD
from tests.e2e.test_modeler_e2e import select
from tests.support.backends import Stack

pytestmark = pytest.mark.e2e

AXE = Path(__file__).resolve().parent / "node_modules" / "axe-core" / "axe.min.js"
#: WCAG 2.0, 2.1 and 2.2 at levels A and AA.
WCAG_A_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]
GRAVE = ("serious", "critical")
HTML_LANG = {"en": "en", "zh": "zh-CN"}

RUN_AXE = """async (tags) => {
  const result = await axe.run(document, {runOnly: {type: "tag", values: tags},
                                          resultTypes: ["violations"]});
  return result.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
                                       targets: v.nodes.map(n => n.target.join(" "))}));
}"""


@pytest.fixture(scope="module")
def axe_script() -> Path:
    if not AXE.exists():
        message = (f"axe-core is not installed ({AXE} is missing): run `make setup-test` "
                   "or bin/setup-axe (needs npm)")
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return AXE


@pytest.fixture
def demo_data(app: Flask, stack: Stack) -> None:
    """What `make run` shows: `gxpflow init` then `gxpflow demo`, on the emptied database."""
    gxpflow = str(Path(sys.executable).with_name("gxpflow"))
    for command in ("init", "demo"):
        done = subprocess.run([gxpflow, command], env=stack.environ(), capture_output=True,
                              text=True, timeout=180, check=False)
        assert done.returncode == 0, f"gxpflow {command}:\n{done.stdout}\n{done.stderr}"


class Auditor:
    """Opens pages as one demo user after another and keeps what axe finds on each."""

    def __init__(self, page: Any, base: str, locale: str, axe: Path) -> None:
        self.page, self.base, self.locale, self.axe = page, base, locale, axe
        self.found: dict[str, list[dict[str, Any]]] = {}
        self.wrong_language: list[str] = []

    def log_out(self) -> None:
        """A fresh visitor who chose the language before (its cookie)."""
        self.page.context.clear_cookies()
        self.page.context.add_cookies(
            [{"name": "gxpflow_locale", "value": self.locale, "url": self.base}])

    def log_in(self, username: str) -> None:
        """Log in as a fresh session, then pick the language as a user does (the link)."""
        self.log_out()
        self.page.goto(self.base + "/auth/login")
        self.page.locator("input[name=username]").fill(username)
        self.page.locator("input[name=password]").fill(DEMO_PASSWORD)
        self.page.locator("main form button[type=submit]").click()
        self.page.wait_for_url(self.base + "/")
        self.page.goto(f"{self.base}/lang/{self.locale}?next=/")

    def visit(self, name: str, path: str | None = None, ready: str | None = None) -> None:
        """Open `path` (or stay on the page shown), wait for `ready`, and run axe on it."""
        if path is not None:
            self.page.goto(self.base + path)
        if ready:
            self.page.locator(ready).wait_for()
        lang = self.page.locator("html").get_attribute("lang")
        if lang != HTML_LANG[self.locale]:
            self.wrong_language.append(f"{name}: <html lang={lang!r}>")
        self.page.add_script_tag(path=str(self.axe))
        self.found[name] = self.page.evaluate(RUN_AXE, WCAG_A_AA)

    def link(self, path: str, pattern: str) -> str:
        """The first link on `path` whose address matches `pattern` (a record to open)."""
        self.page.goto(self.base + path)
        for href in self.page.locator("main a[href]").evaluate_all(
                "links => links.map(a => a.getAttribute('href'))"):
            if re.search(pattern, href):
                return str(href)
        raise AssertionError(f"no link matching {pattern} on {path}")

    def grave(self) -> list[str]:
        return [f"{name}: {v['id']} ({v['impact']}) {v['help']}; at "
                + ", ".join(v["targets"][:3]) + (" …" if len(v["targets"]) > 3 else "")
                for name, violations in self.found.items() for v in violations
                if v["impact"] in GRAVE]


def tour(auditor: Auditor, screenshot: Callable[[str], Path]) -> None:
    """The pages staff use all day, each as the demo user whose work it is."""
    visit, link, page = auditor.visit, auditor.link, auditor.page
    auditor.log_out()
    visit("log-in", "/auth/login")
    page.locator("input[name=username]").fill("inspector")
    page.locator("input[name=password]").fill("not the password")
    page.locator("main form button[type=submit]").click()
    visit("log-in refused")

    auditor.log_in("inspector")
    visit("home", "/")
    visit("inbox", "/inbox/")
    visit("task", link("/inbox/", r"^/inbox/tasks/\d+$"))
    page.locator("form.gx-task-form button[type=submit]").click()  # nothing filled in
    page.locator(".gx-field .field-error").first.wait_for()
    visit("task with field errors")
    screenshot(f"accessibility-{auditor.locale}-task")
    visit("preferences", "/auth/preferences")
    visit("notifications", "/notifications")

    auditor.log_in("qm")
    visit("stock", "/ledger/")
    screenshot(f"accessibility-{auditor.locale}-stock")
    visit("movements", "/ledger/movements")
    visit("expiry board", "/ledger/expiry")
    visit("lot", link("/ledger/", r"^/ledger/lots/\d+"))
    visit("recalls", "/recalls/")
    visit("recall", link("/recalls/", r"^/recalls/\d+$"))
    visit("new recall", "/recalls/new")
    page.locator("#product").fill("NO-SUCH-PRODUCT")  # refused at its field: nothing starts
    page.locator("#lots").fill("L-NONE")
    page.locator("#reason").fill("Accessibility check")
    page.locator("#source").fill("Accessibility check")
    page.locator("#confirm").check()
    page.once("dialog", lambda dialog: dialog.accept())  # "Confirm?" before starting
    page.locator("main form button[type=submit]").click()
    page.locator(".field-error").first.wait_for()
    visit("new recall refused")

    auditor.log_in("admin")
    visit("users", "/admin/")
    visit("user", link("/admin/", r"^/admin/users/\d+$"))
    for kind in ("products", "parties", "sites", "locations"):
        visit(kind, f"/masterdata/{kind}")
    visit("new product", "/masterdata/products/new")

    auditor.log_in("owner")
    visit("processes", "/processes/")
    visit("process instance", link("/processes/instances", r"^/processes/instances/\d+$"),
          ready="#diagram[data-state=ready]")
    visit("new process in the modeler", "/processes/modeler", ready="#modeler[data-state=ready]")
    page.goto(auditor.base + "/processes/receiving/modeler")
    page.locator("#modeler[data-state=ready]").wait_for()
    select(page, "Task_inspect")  # the properties panel's fields for a user task
    visit("modeler, a task selected")
    screenshot(f"accessibility-{auditor.locale}-modeler")

    auditor.log_in("compliance")
    visit("rule packs", "/rules/")
    visit("rule pack version", link("/rules/", r"^/rules/versions/\d+$"))

    auditor.log_in("auditor")
    visit("audit trail", "/audit/")
    visit("audit event", link("/audit/", r"^/audit/events/\d+$"))


@pytest.mark.parametrize("locale", ["en", "zh"])
def test_the_main_pages_have_no_serious_accessibility_violations(
    axe_script: Path, demo_data: None, live_server: str, page: Any, screenshot: Any, locale: str
) -> None:
    page.set_viewport_size({"width": 1280, "height": 1000})  # the modeler's canvas in view
    auditor = Auditor(page, live_server, locale, axe_script)
    tour(auditor, screenshot)
    assert len(auditor.found) >= 30, sorted(auditor.found)
    assert auditor.wrong_language == []
    grave = auditor.grave()
    assert grave == [], (f"{len(grave)} serious or critical accessibility violation(s) "
                         f"({locale}):\n" + "\n".join(grave))
