"""The two backends the suite runs on, and the real worker process for the production one."""

from __future__ import annotations

import contextlib
import os
import secrets
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
from flask import Flask
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from engine.db import db
from web import create_app

PG_ADMIN_URL = os.environ.get(
    "GXPFLOW_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
REDIS_URL = os.environ.get("GXPFLOW_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
#: The tests' webhook sinks listen here; the app, `gxpflow serve` and the worker may POST to it.
WEBHOOK_SINKS = "127.0.0.1"


@dataclass(frozen=True)
class Stack:
    backend: str
    database_url: str
    broker_url: str
    queue: str
    instance_path: Path

    def overrides(self) -> dict[str, object]:
        return {
            "mode": "testing",
            "database_url": self.database_url,
            "broker_url": self.broker_url,
            "celery_queue": self.queue,
            "instance_path": str(self.instance_path),
            "webhook_allowed_hosts": WEBHOOK_SINKS,
        }

    def environ(self) -> dict[str, str]:
        """The same settings as `GXPFLOW_*` variables, for subprocesses."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("GXPFLOW_")}
        env.update(
            GXPFLOW_MODE="testing",
            GXPFLOW_DATABASE_URL=self.database_url,
            GXPFLOW_BROKER_URL=self.broker_url,
            GXPFLOW_CELERY_QUEUE=self.queue,
            GXPFLOW_INSTANCE_PATH=str(self.instance_path),
            GXPFLOW_WEBHOOK_ALLOWED_HOSTS=WEBHOOK_SINKS,
        )
        return env


def _admin_connect() -> psycopg.Connection:
    url = make_url(PG_ADMIN_URL)
    return psycopg.connect(
        host=url.host, port=url.port or 5432, user=url.username, password=url.password,
        dbname=url.database, autocommit=True, connect_timeout=5,
    )


@contextlib.contextmanager
def production_stack(instance: Path) -> Iterator[Stack]:
    """A fresh PostgreSQL database for this run, dropped afterwards; Redis as the broker."""
    name = f"gxpflow_test_{secrets.token_hex(4)}"
    with _admin_connect() as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = make_url(PG_ADMIN_URL).set(drivername="postgresql+psycopg", database=name)
    try:
        yield Stack(
            backend="production",
            database_url=url.render_as_string(hide_password=False),
            broker_url=REDIS_URL,
            queue=f"gxpflow-test-{secrets.token_hex(4)}",
            instance_path=instance,
        )
    finally:
        with _admin_connect() as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def make_app(stack: Stack) -> Flask:
    return create_app(stack.overrides())


def migrate_to_head() -> None:
    from flask_migrate import upgrade

    upgrade()


def empty_database() -> None:
    """Remove every row, keeping the schema; on PostgreSQL TRUNCATE bypasses row triggers.
    What the runtime keeps per process definition id goes too: the next test's definitions
    start again at id 1 (one database never reuses a definition's id)."""
    from engine.workflow import runtime, tasks

    runtime._FOUR_EYES.clear()
    tasks._LABELS.clear()
    db.session.remove()
    tables = [t.name for t in reversed(db.metadata.sorted_tables)]
    if not tables:
        return
    for attempt in range(10):
        try:
            with db.engine.begin() as conn:
                if conn.dialect.name == "postgresql":
                    quoted = ", ".join(f'"{t}"' for t in tables)
                    # Append-only tables refuse TRUNCATE; replica role skips their triggers.
                    conn.execute(text("SET LOCAL session_replication_role = replica"))
                    conn.execute(text(f"TRUNCATE {quoted} RESTART IDENTITY CASCADE"))
                else:
                    for table in tables:
                        conn.execute(text(f'DELETE FROM "{table}"'))
            return
        except OperationalError as error:
            # A real worker may still be finishing a task of the previous test (a recall's
            # notices, say): its reads can deadlock with TRUNCATE. Let it finish, then retry.
            if "deadlock" not in str(error).lower() or attempt == 9:
                raise
            time.sleep(0.5)


def discard_session() -> None:
    db.session.rollback()
    db.session.remove()


@dataclass
class WorkerProcess:
    process: subprocess.Popen[bytes]
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


@contextlib.contextmanager
def worker_process(stack: Stack, app: Flask) -> Iterator[WorkerProcess]:
    """Start `gxpflow worker` in its own process and wait until it answers a ping."""
    log_path = stack.instance_path / "worker.log"
    gxpflow = Path(sys.executable).with_name("gxpflow")
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [str(gxpflow), "worker", "--concurrency", "2", "--without-gossip", "--without-mingle"],
            env=stack.environ(), stdout=log, stderr=subprocess.STDOUT,
        )
    worker = WorkerProcess(process, log_path)
    try:
        _wait_until_ready(app, worker)
        yield worker
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wait_until_ready(app: Flask, worker: WorkerProcess, timeout: float = 60.0) -> None:
    from engine.jobs import ping

    deadline = time.monotonic() + timeout
    with app.app_context():
        while time.monotonic() < deadline:
            if worker.process.poll() is not None:
                raise RuntimeError(f"the worker exited early:\n{worker.log()}")
            try:
                ping.apply_async(args=["ready?"]).get(timeout=5)
                return
            except Exception:  # not ready yet: the broker or worker is still starting
                time.sleep(0.5)
    raise RuntimeError(f"the worker did not answer within {timeout:.0f}s:\n{worker.log()}")
