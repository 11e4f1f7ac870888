"""Tasks reach the engine: eagerly when embedded, through Redis to a real worker in production."""

from __future__ import annotations

import os

import pytest
from flask import Flask

from engine.jobs import ping
from tests.support.backends import WorkerProcess


def test_embedded_runs_tasks_eagerly_in_process(ctx: Flask) -> None:
    if not ctx.extensions["celery"].conf.task_always_eager:
        pytest.skip("the production stack has a broker")
    result = ping.delay("hello").get()
    assert result["echo"] == "hello"
    assert result["pid"] == os.getpid()
    assert result["database"]["ok"] is True


@pytest.mark.production
def test_task_goes_through_redis_to_a_real_worker(ctx: Flask, worker: WorkerProcess) -> None:
    celery_app = ctx.extensions["celery"]
    assert celery_app.conf.broker_url.startswith("redis://")
    assert not celery_app.conf.task_always_eager
    result = ping.delay("through the broker").get(timeout=30)
    assert result["echo"] == "through the broker"
    assert result["pid"] != os.getpid(), "the task ran in the worker process, not here"
    assert result["database"] == {"ok": True, "backend": "postgresql"}
