"""Scheduled ledger scans as Celery tasks: each runs one scan in its own transaction and is safe
to run twice (a second run finds nothing new to flag or move)."""

from __future__ import annotations

from datetime import date
from typing import Any

from celery import shared_task

from engine.db import db
from engine.ledger import expiry


def _day(today: str | None) -> date | None:
    return date.fromisoformat(today) if today else None


@shared_task(name="gxpflow.ledger.scan_near_expiry", time_limit=600, soft_time_limit=540)
def scan_near_expiry(today: str | None = None) -> dict[str, Any]:
    """Warn about lots on hand within their product's near-expiry threshold."""
    try:
        result = expiry.scan_near_expiry(_day(today))
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
    return result.as_dict()


@shared_task(name="gxpflow.ledger.scan_expired", time_limit=900, soft_time_limit=840)
def scan_expired(today: str | None = None) -> dict[str, Any]:
    """Move expired stock to nonconforming and lock its lots."""
    try:
        result = expiry.scan_expired(_day(today))
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
    return result.as_dict()


@shared_task(name="gxpflow.ledger.scan_licences", time_limit=600, soft_time_limit=540)
def scan_licences(today: str | None = None) -> dict[str, Any]:
    """Flag licences and registrations near expiry or expired on their parties and products."""
    try:
        changes = expiry.scan_licences(_day(today))
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
    return {"parties": [list(c) for c in changes.parties],
            "products": [list(c) for c in changes.products]}
