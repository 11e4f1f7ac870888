"""Celery tasks of the workflow runtime: due timers (beat) and service calls (workers)."""

from __future__ import annotations

from celery import shared_task

from engine.db import db


@shared_task(name="gxpflow.workflow.fire_timers", time_limit=300)
def fire_timers() -> int:
    """Advance every instance whose timer is due; runs every 30 seconds from beat."""
    from engine.workflow.runtime import current_runtime

    fired = current_runtime().fire_due_timers()
    db.session.commit()
    return fired


@shared_task(name="gxpflow.workflow.run_service_call", soft_time_limit=270, time_limit=300,
             acks_late=True)
def run_service_call(call_id: int) -> None:
    """Call a service task's connector once and apply its result (safe to run twice). A
    connector still running after 270 s is stopped (SoftTimeLimitExceeded): the call fails and
    the instance stops in error, for an administrator to retry."""
    from engine.workflow.runtime import current_runtime

    current_runtime().run_service_call(call_id)
    db.session.commit()


@shared_task(name="gxpflow.workflow.resend_service_calls", time_limit=300)
def resend_service_calls() -> int:
    """Send again the service calls still pending ten minutes after they were sent (beat)."""
    from engine.workflow.runtime import current_runtime

    sent = current_runtime().resend_stale_service_calls()
    db.session.commit()
    return sent


@shared_task(name="gxpflow.workflow.deliver_message", time_limit=300)
def deliver_message(name: str, payload: dict, correlation: str = "") -> list[int]:  # type: ignore[type-arg]
    """Deliver a message to the instances waiting for it; returns the instances reached."""
    from engine import audit
    from engine.workflow.runtime import current_runtime

    reached = current_runtime().deliver_message(audit.SYSTEM, name, payload, correlation)
    db.session.commit()
    return reached
