"""The Flask application factory: settings checked, extensions bound, blueprints registered."""

from __future__ import annotations

import importlib
import logging
import os
import select
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Flask
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.orm import configure_mappers
from sqlalchemy.pool import Pool

import engine.models  # noqa: F401  (registers every table)
from engine.config import Settings, load_settings
from engine.db import db, install_session_hooks
from engine.plugins import load_plugins
from engine.processes import ProcessEffects, connectors
from engine.rules.workflow_gate import RulesGate
from engine.workflow.runtime import Runtime, celery_dispatch
from web import errors, i18n, navigation
from web.extensions import celery_init_app, csrf, migrate

MIGRATIONS = Path(__file__).resolve().parent.parent / "engine" / "migrations"

# One line per feature blueprint (a module with `bp`), in navigation order.
BLUEPRINTS: tuple[str, ...] = (
    "web.core",
    "web.auth",
    "web.api",
    "web.inbox",
    "web.processes",
    "web.masterdata",
    "web.ledger",
    "web.rules",
    "web.recalls",
    "web.tracking",
    "web.delivery",
    "web.audit",
    "web.admin",
)

# One line per command or command group: (module, attribute).
CLI_COMMANDS: tuple[tuple[str, str], ...] = (
    ("web.auth.cli", "audit_cli"),
    ("web.auth.cli", "tokens_cli"),
    ("web.auth.cli", "users_cli"),
    ("web.processes_cli", "processes_cli"),
    ("web.ledger_cli", "ledger_cli"),
    ("web.ledger_cli", "trace_command"),
    ("web.rules_cli", "rules_cli"),
)


def create_app(overrides: Mapping[str, Any] | None = None) -> Flask:
    """Build the app from `GXPFLOW_*` variables; `overrides` replace them (tests)."""
    overrides = dict(overrides or {})
    instance_path = overrides.pop("instance_path", None) or os.environ.get("GXPFLOW_INSTANCE_PATH")
    app = Flask(
        __name__, instance_path=str(Path(instance_path).resolve()) if instance_path else None
    )
    instance = Path(app.instance_path)
    instance.mkdir(parents=True, exist_ok=True)
    settings = load_settings(os.environ, instance, overrides)
    _configure(app, settings)

    db.init_app(app)
    install_session_hooks()
    migrate.init_app(app, db, directory=str(MIGRATIONS), render_as_batch=True)
    csrf.init_app(app)
    celery_init_app(app, settings)
    i18n.init_app(app)
    navigation.init_app(app)
    errors.init_app(app)

    from web import security

    security.init_app(app)
    app.before_request(errors.refuse_unstorable_text)  # after the log-in check
    for module in BLUEPRINTS:
        app.register_blueprint(importlib.import_module(module).bp)
    for module, attribute in CLI_COMMANDS:
        app.cli.add_command(getattr(importlib.import_module(module), attribute))
    app.extensions["gxpflow.runtime"] = Runtime(
        gate=RulesGate(), effects=ProcessEffects(), connectors=connectors.builtin(),
        dispatch=None if settings.eager else celery_dispatch
    )
    app.extensions["gxpflow.plugins"] = load_plugins(app)
    # Relate the models now, not in the first request a worker serves (a recall started
    # through the API would wait for it).
    configure_mappers()
    return app


def _configure(app: Flask, settings: Settings) -> None:
    app.extensions["gxpflow.settings"] = settings
    app.config.update(
        SECRET_KEY=settings.secret_key,
        SQLALCHEMY_DATABASE_URI=settings.database_url,
        SQLALCHEMY_ENGINE_OPTIONS=_engine_options(settings.database_url),
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.production,
        PERMANENT_SESSION_LIFETIME=settings.session_idle_minutes * 60,
        WTF_CSRF_TIME_LIMIT=None,
        # A request carries at most a task's files (10 of 10 MB) and its form.
        MAX_CONTENT_LENGTH=112 * 1024 * 1024,
        TESTING=settings.mode == "testing",
        JSON_SORT_KEYS=False,
    )
    app.config.update(dict(settings.extra))
    logging.basicConfig(level=settings.log_level.upper())
    if logging.getLogger().getEffectiveLevel() > logging.DEBUG:
        # SpiffWorkflow logs every task's change of state at INFO: kept for debugging only
        logging.getLogger("spiff").setLevel(logging.WARNING)


def _engine_options(url: str) -> dict[str, Any]:
    if url.startswith("sqlite"):
        return {"connect_args": {"timeout": 30}}
    return {"pool_size": 10, "max_overflow": 10}  # dead connections: `_drop_if_closed`


@event.listens_for(Engine, "connect")
def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    """SQLite: enforce foreign keys and let readers work while one process writes."""
    if type(dbapi_connection).__module__.startswith("sqlite3"):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.close()


@event.listens_for(Pool, "checkout")
def _drop_if_closed(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
    """PostgreSQL: a pooled connection the server has closed (a restart, an administrator's
    pg_terminate_backend, an idle timeout) is replaced before use, not failed in a request.

    An idle connection receives nothing, so the server's goodbye (its error message, then
    end of stream) leaves the socket readable; the pool then opens a new connection. One
    local poll instead of SQLAlchemy's pre-ping, which spends a round trip per checkout."""
    if not type(dbapi_connection).__module__.startswith("psycopg"):
        return
    if dbapi_connection.closed or dbapi_connection.broken:
        raise DisconnectionError("this pooled connection is closed")
    try:
        gone = _readable(dbapi_connection.fileno())
    except Exception as error:  # psycopg: the socket itself is gone
        raise DisconnectionError(f"this pooled connection has no socket: {error}") from error
    if gone:
        raise DisconnectionError("the database server closed this pooled connection")


def _readable(fd: int) -> bool:
    poller = select.poll()
    poller.register(fd, select.POLLIN | select.POLLERR | select.POLLHUP)
    return bool(poller.poll(0))


def settings_of(app: Flask) -> Settings:
    settings: Settings = app.extensions["gxpflow.settings"]
    return settings
