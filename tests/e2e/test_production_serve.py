"""`gxpflow serve` in production mode runs gunicorn from the environment GxPFlow is installed
in, even when that environment's bin folder is not on PATH."""

from __future__ import annotations

import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from tests.e2e.conftest import _free_port
from tests.support.backends import Stack


def test_production_serve_runs_gunicorn(stack: Stack, app_session: object) -> None:
    port = _free_port()
    env = stack.environ() | {"GXPFLOW_MODE": "production", "GXPFLOW_SECRET_KEY": "x" * 40,
                             "GXPFLOW_WORKERS": "1", "PATH": "/usr/bin:/bin"}
    if not stack.database_url.startswith("postgresql"):
        env["GXPFLOW_DATABASE_URL"] = f"sqlite:///{stack.instance_path / 'gxpflow.db'}"
    log = stack.instance_path / "gunicorn.log"
    gxpflow = str(Path(sys.executable).with_name("gxpflow"))
    with log.open("wb") as out:
        process = subprocess.Popen([gxpflow, "serve", "--port", str(port)], env=env,
                                   stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as r:
                    assert r.status == 200
                    break
            except OSError:
                assert process.poll() is None, log.read_text()
                assert time.monotonic() < deadline, log.read_text()
                time.sleep(0.3)
        assert "gunicorn" in log.read_text().lower()
    finally:
        process.terminate()
        process.wait(timeout=20)
