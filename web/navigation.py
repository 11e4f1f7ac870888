"""The main navigation: an item shows once the blueprint behind it is registered and the user
may open it (the permission its page requires; any of several for Administration)."""

from __future__ import annotations

from flask import Flask, current_app

from engine.db import utcnow

#: (endpoint, label, permissions: any one of them opens the page; empty: everyone logged in).
NAV: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("core.home", "Home", ()),
    ("inbox.index", "Inbox", ("tasks.view",)),
    ("ledger.index", "Ledger", ("ledger.view",)),
    ("masterdata.index", "Master data", ("masterdata.view",)),
    ("processes.index", "Processes", ("processes.view",)),
    ("rules.index", "Rule packs", ("rules.view",)),
    ("recalls.index", "Recalls", ("recalls.view",)),
    ("tracking.index", "Device tracking", ("tracking.view",)),
    ("audit.index", "Audit trail", ("audit.view",)),
    ("admin.index", "Administration", ("users.view", "training.record")),
)


def nav_items() -> list[tuple[str, str]]:
    from web.security import can

    return [(endpoint, label) for endpoint, label, permissions in NAV
            if endpoint in current_app.view_functions
            and (not permissions or any(can(permission) for permission in permissions))]


def init_app(app: Flask) -> None:
    app.jinja_env.globals.update(nav_items=nav_items, now_utc=utcnow)
