"""A live `gxpflow serve` process and headless Chromium (Debian's) driven by Playwright."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.backends import Stack

CHROMIUM = os.environ.get("GXPFLOW_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def live_server(stack: Stack, app_session: Any) -> Iterator[str]:
    """The app served by `gxpflow serve` in its own process, on the suite's database."""
    port = _free_port()
    gxpflow = str(Path(sys.executable).with_name("gxpflow"))
    log_path = stack.instance_path / "serve.log"
    env = stack.environ() | {"PORT": str(port)}
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [gxpflow, "serve"], env=env, stdout=log, stderr=subprocess.STDOUT
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(f"{url}/healthz", timeout=2).close()
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"gxpflow serve did not start:\n{log_path.read_text()}")
                time.sleep(0.2)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=20)


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    if not shutil.which(CHROMIUM) and not Path(CHROMIUM).exists():
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} is missing: `make test` installs Debian's chromium package")
        pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Any, stack: Stack) -> Iterator[Any]:
    context = browser.new_context(locale="en-US", timezone_id="Asia/Shanghai")
    page = context.new_page()
    page.set_default_timeout(15000)
    yield page
    context.close()


@pytest.fixture
def errors(page: Any) -> list[str]:
    """What goes wrong in the page from now on: script errors, missing files, server errors."""
    found: list[str] = []
    page.on("console", lambda m: found.append(m.text)
            if m.type == "error" and not m.text.startswith("Failed to load resource") else None)
    page.on("pageerror", lambda e: found.append(str(e)))
    page.on("response", lambda r: found.append(f"{r.status} {r.url}")
            if (r.status == 404 or r.status >= 500) and not r.url.endswith("/favicon.ico")
            else None)
    return found


@pytest.fixture
def screenshot(page: Any, stack: Stack) -> Any:
    """Save a full-page screenshot under the test instance folder; returns its path."""

    def take(name: str) -> Path:
        path = stack.instance_path / "screenshots" / f"{name}.png"
        path.parent.mkdir(exist_ok=True)
        page.screenshot(path=str(path), full_page=True)
        return path

    return take
