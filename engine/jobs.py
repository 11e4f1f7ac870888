"""Celery tasks of the engine: each takes ids, reloads what it needs and is safe to run twice.

Tasks are declared with `shared_task`, so they bind to the app's Celery instance (eager by
default, a real worker in production) and run inside the Flask app context.
"""

from __future__ import annotations

import os
import socket
from typing import Any

from celery import shared_task

from engine import db as database


@shared_task(name="gxpflow.ping", time_limit=30)
def ping(payload: str = "") -> dict[str, Any]:
    """Round-trip check: reports which process ran it and whether it reached the database."""
    return {
        "echo": payload,
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "database": database.ping(),
    }
