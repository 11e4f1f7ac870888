"""The `gxpflow` command as an operator runs it in a shell."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.support.backends import Stack

GXPFLOW = str(Path(sys.executable).with_name("gxpflow"))


def run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [GXPFLOW, *args], env=env, capture_output=True, text=True, timeout=120, check=False
    )


def test_init_then_check_succeed(stack: Stack) -> None:
    env = stack.environ()
    init = run(["init"], env)
    assert init.returncode == 0, init.stderr
    assert "schema: up to date" in init.stdout
    check = run(["check"], env)
    assert check.returncode == 0, check.stdout + check.stderr
    backend = "postgresql" if stack.backend == "production" else "sqlite"
    assert f"database: ok ({backend})" in check.stdout
    assert "broker: ok" in check.stdout


def test_check_masks_secrets(stack: Stack) -> None:
    env = stack.environ() | {"GXPFLOW_SECRET_KEY": "s3cr3t-" * 6}
    check = run(["check"], env)
    assert "s3cr3t" not in check.stdout
    assert "secret_key               ********" in check.stdout


def test_wrong_database_url_gives_one_clear_line(stack: Stack) -> None:
    env = stack.environ() | {"GXPFLOW_DATABASE_URL": "postgresql://nobody@127.0.0.1:1/nowhere"}
    init = run(["init"], env)
    assert init.returncode != 0
    assert "Traceback" not in init.stderr
    error_lines = [line for line in init.stderr.splitlines() if line.startswith("gxpflow:")]
    assert len(error_lines) == 1
    assert "database error" in error_lines[0]
    assert "127.0.0.1" in error_lines[0]


def test_malformed_setting_gives_one_clear_line(stack: Stack) -> None:
    env = stack.environ() | {"GXPFLOW_PAGE_SIZE": "lots"}
    check = run(["check"], env)
    assert check.returncode == 2
    assert check.stderr.strip() == "gxpflow: GXPFLOW_PAGE_SIZE='lots' is not a whole number"


def test_worker_refuses_to_start_without_a_broker(stack: Stack) -> None:
    env = stack.environ() | {"GXPFLOW_BROKER_URL": ""}
    worker = run(["worker"], env)
    assert worker.returncode != 0
    assert "GXPFLOW_BROKER_URL is not set" in worker.stderr


def test_demo_then_audit_verify_and_token_creation(app: object, stack: Stack) -> None:
    # `app` empties the suite's database first: the demo runs as on a fresh install (a user
    # a previous test left, with another password, would not be the demo's).
    env = stack.environ()
    assert run(["init"], env).returncode == 0
    demo = run(["demo"], env)
    assert demo.returncode == 0, demo.stderr
    assert "password for all: Demo-pass-2026" in demo.stdout
    assert "qm           Quality manager" in demo.stdout
    assert "gxp_" in demo.stdout
    again = run(["demo"], env)
    assert again.returncode == 0, "demo is safe to run twice"
    verify = run(["audit", "verify"], env)
    assert verify.returncode == 0
    assert verify.stdout.startswith("OK: ")
    token = run(["tokens", "create", "--user", "erp", "--name", "ERP"], env)
    assert token.returncode == 0 and token.stdout.startswith("gxp_")
    refused = run(["tokens", "create", "--user", "qm"], env)
    assert refused.returncode != 0
    assert "does not have the API client role" in refused.stderr
