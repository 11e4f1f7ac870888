"""The main navigation: an item shows once the blueprint behind it is registered."""

from __future__ import annotations

from flask import Flask, current_app

from engine.db import utcnow

NAV: tuple[tuple[str, str], ...] = (
    ("core.home", "Home"),
    ("inbox.index", "Inbox"),
    ("ledger.index", "Ledger"),
    ("processes.index", "Processes"),
    ("rules.index", "Rule packs"),
    ("recalls.index", "Recalls"),
    ("audit.index", "Audit trail"),
    ("admin.index", "Administration"),
)


def nav_items() -> list[tuple[str, str]]:
    return [(endpoint, label) for endpoint, label in NAV if endpoint in current_app.view_functions]


def init_app(app: Flask) -> None:
    app.jinja_env.globals.update(nav_items=nav_items, now_utc=utcnow)
