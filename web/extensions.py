"""Extensions created once and bound to an app by `create_app`, plus Celery wired the Flask way."""

from __future__ import annotations

from typing import Any

from celery import Celery, Task
from celery.schedules import crontab
from flask import Flask
from flask_migrate import Migrate
from flask_wtf import CSRFProtect

from engine.config import Settings

#: Modules that declare Celery tasks; a worker imports them all at start.
TASK_MODULES: list[str] = [
    "engine.jobs", "engine.ledger.jobs", "engine.recall.jobs", "engine.workflow.jobs",
    "engine.tracking.jobs",
]

#: Periodic tasks run by `gxpflow beat` (times in UTC).
BEAT_SCHEDULE: dict[str, dict[str, Any]] = {
    "workflow-timers": {"task": "gxpflow.workflow.fire_timers", "schedule": 30.0},
    "workflow-service-calls": {"task": "gxpflow.workflow.resend_service_calls",
                               "schedule": 300.0},
    "recall-escalate-overdue": {"task": "gxpflow.recall.escalate_overdue", "schedule": 300.0},
    # Expiry is judged by each site's calendar date, and sites span time zones, so the
    # expired-stock scan runs every hour; it moves only what has become expired since.
    "ledger-scan-expired": {"task": "gxpflow.ledger.scan_expired",
                            "schedule": crontab(minute=5)},
    "ledger-scan-near-expiry": {"task": "gxpflow.ledger.scan_near_expiry",
                                "schedule": crontab(minute=20, hour=0)},
    "ledger-scan-licences": {"task": "gxpflow.ledger.scan_licences",
                             "schedule": crontab(minute=35, hour=0)},
}

migrate = Migrate()
csrf = CSRFProtect()


def celery_init_app(app: Flask, settings: Settings) -> Celery:
    """One Celery app per Flask app; every task runs inside the Flask app context."""

    class FlaskTask(Task):  # type: ignore[misc]
        def __call__(self, *args: Any, **kwargs: Any) -> Any:
            with app.app_context():
                return self.run(*args, **kwargs)

    celery_app = Celery(app.name, task_cls=FlaskTask)
    celery_app.conf.update(
        # eager mode: Celery still takes a producer, so name a host (kombu warns without one)
        broker_url=settings.broker_url or "memory://localhost/",
        result_backend=settings.result_backend or settings.broker_url or None,
        task_always_eager=settings.eager,
        task_eager_propagates=True,
        task_store_eager_result=False,
        task_default_queue=settings.celery_queue,
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        broker_connection_retry_on_startup=True,
        broker_connection_timeout=3,
        result_expires=3600,
        timezone="UTC",
        enable_utc=True,
        beat_schedule=BEAT_SCHEDULE,
        imports=TASK_MODULES,
    )
    celery_app.set_default()
    app.extensions["celery"] = celery_app
    return celery_app


def broker_status(celery_app: Celery) -> dict[str, Any]:
    """Whether the Celery broker answers; in eager mode there is nothing to reach."""
    if celery_app.conf.task_always_eager:
        return {"ok": True, "mode": "eager"}
    try:
        with celery_app.connection_for_write() as connection:
            connection.ensure_connection(max_retries=1, timeout=2)
        return {"ok": True, "mode": connection.transport_cls}
    except Exception as exc:  # kombu raises many types here; any of them means unreachable
        return {"ok": False, "mode": "broker", "error": str(exc).splitlines()[0]}
