"""The `gxpflow` command: set up, seed, serve, run workers and check a GxPFlow installation.

Flask's own commands (`gxpflow db upgrade`, `gxpflow shell`, `gxpflow routes`) come along.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import click
from flask import current_app
from flask.cli import FlaskGroup, with_appcontext
from sqlalchemy.exc import SQLAlchemyError

from engine.config import mask_url
from engine.errors import GxpError
from web import create_app, settings_of


def _make_app() -> Any:
    return create_app()


cli = FlaskGroup(
    name="gxpflow",
    create_app=_make_app,
    add_version_option=False,
    load_dotenv=False,
    set_debug_flag=False,
    help="GxPFlow: compliance engine for medical-device distributors.",
)

def _database_label() -> str:
    return mask_url(settings_of(current_app).database_url)


@cli.command("init")
@with_appcontext
def init_command() -> None:
    """Create or upgrade the database, then load the shipped processes and rule packs."""
    from flask_migrate import upgrade

    click.echo(f"database: {_database_label()}")
    upgrade()
    click.echo("schema: up to date")
    from engine.db import db
    from engine.workflow import store

    shipped = Path(current_app.root_path).parent / "processes" / "bpmn"
    for line in store.load_shipped(shipped):
        click.echo(f"process: {line}")
    db.session.commit()
    from engine import audit
    from engine.rules import store as rule_store

    for line in rule_store.import_shipped(audit.Actor(None, "cli")):
        click.echo(f"rule pack: {line}")
    db.session.commit()


@cli.command("demo")
@with_appcontext
def demo_command() -> None:
    """Seed demo data (safe to run again: existing demo records are kept)."""
    from engine import demo
    from engine.db import db

    users = demo.seed_users()
    db.session.commit()
    token = demo.seed_api_token(Path(current_app.instance_path))
    db.session.commit()
    click.echo("Demo users (log in at /auth/login), password for all: " + demo.DEMO_PASSWORD)
    for line in users:
        click.echo("  " + line)
    click.echo("Demo API token (user erp), send as 'Authorization: Bearer <token>':")
    click.echo("  " + token)
    stock_lines = demo.seed_masterdata() + demo.seed_stock()
    db.session.commit()
    for line in stock_lines:
        click.echo(line)
    for line in demo.activate_rule_packs() + demo.seed_receiving() + demo.seed_tracking():
        click.echo(line)
    db.session.commit()
    for line in demo.seed_outbound_and_release() + demo.seed_recall():
        click.echo(line)
    db.session.commit()


@cli.command("serve")
@click.option("--host", default=lambda: os.environ.get("HOST", "127.0.0.1"), show_default="HOST")
@click.option("--port", default=lambda: int(os.environ.get("PORT", "5000")), type=int,
              show_default="PORT or 5000")
@with_appcontext
def serve_command(host: str, port: int) -> None:
    """Serve the web app: Flask's server in development, gunicorn in production."""
    settings = settings_of(current_app)
    if settings.production:
        # The gunicorn of this environment, even when its bin folder is not on PATH.
        beside = Path(sys.executable).with_name("gunicorn")
        argv = [
            str(beside) if beside.exists() else "gunicorn",
            "--workers", str(settings.workers), "--bind", f"{host}:{port}",
            "--access-logfile", "-", "web.wsgi:app",
        ]
        click.echo(f"serving with gunicorn on http://{host}:{port}")
        os.execvp(argv[0], argv)  # noqa: S606 - replaces this process with gunicorn
    click.echo(f"serving on http://{host}:{port} (development server; GXPFLOW_MODE=production "
               "uses gunicorn)")
    from werkzeug.serving import run_simple

    run_simple(host, port, current_app._get_current_object(), threaded=True)  # type: ignore[attr-defined]


def _require_broker() -> Any:
    settings = settings_of(current_app)
    if settings.eager:
        raise click.UsageError(
            "GXPFLOW_BROKER_URL is not set: tasks run eagerly inside the web process. "
            "Set it (for example redis://127.0.0.1:6379/0) to run a worker or beat."
        )
    return current_app.extensions["celery"]


@cli.command("worker", context_settings={"ignore_unknown_options": True})
@click.argument("celery_args", nargs=-1, type=click.UNPROCESSED)
@with_appcontext
def worker_command(celery_args: tuple[str, ...]) -> None:
    """Start a Celery worker on the configured broker (extra arguments go to Celery)."""
    celery_app = _require_broker()
    queue = settings_of(current_app).celery_queue
    celery_app.worker_main(["worker", "--loglevel=INFO", "-Q", queue, *celery_args])


@cli.command("beat", context_settings={"ignore_unknown_options": True})
@click.argument("celery_args", nargs=-1, type=click.UNPROCESSED)
@with_appcontext
def beat_command(celery_args: tuple[str, ...]) -> None:
    """Start the Celery beat scheduler for timers and periodic scans."""
    celery_app = _require_broker()
    schedule = os.path.join(current_app.instance_path, "celerybeat-schedule")
    celery_app.start(["beat", "--loglevel=INFO", "-s", schedule, *celery_args])


@cli.command("check")
@with_appcontext
def check_command() -> None:
    """Print the effective configuration (secrets masked) and test the database and broker."""
    from web.core.views import system_status

    settings = settings_of(current_app)
    for name, value in settings.masked().items():
        click.echo(f"{name:24} {value}")
    status = system_status()
    failed = False
    database = status["database"]
    if database["ok"]:
        click.echo(f"database: ok ({database['backend']})")
    else:
        failed = True
        click.echo(f"database: FAILED: {database['error']}")
    broker = status["broker"]
    if broker["ok"]:
        click.echo(f"broker: ok ({broker['mode']})")
    else:
        failed = True
        click.echo(f"broker: FAILED: {broker['error']}")
    if failed:
        sys.exit(1)


def main() -> None:
    """Console entry point: one clear line instead of a traceback for expected failures."""
    try:
        cli.main(prog_name="gxpflow")
    except GxpError as exc:
        click.echo(f"gxpflow: {exc.message}", err=True)
        sys.exit(2)
    except SQLAlchemyError as exc:
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        click.echo(f"gxpflow: database error: {reason}", err=True)
        sys.exit(2)
