"""`gxpflow audit verify`, `gxpflow tokens create`, `gxpflow users create` and
`gxpflow users set-preferences`."""

from __future__ import annotations

import sys

import click
from flask.cli import AppGroup

from engine import audit
from engine.config import LOCALES
from engine.db import db
from engine.errors import GxpError
from engine.identity import service as identity

audit_cli = AppGroup("audit", help="The audit trail.")
tokens_cli = AppGroup("tokens", help="API tokens for API clients.")
users_cli = AppGroup("users", help="User accounts.")


@audit_cli.command("verify")
def verify_command() -> None:
    """Recompute the hash chain and name the first broken event."""
    result = audit.verify()
    click.echo(result.summary())
    if not result.ok:
        sys.exit(1)


@tokens_cli.command("create")
@click.option("--user", "username", required=True, help="User name of an API client.")
@click.option("--name", default="API token", show_default=True, help="What the token is for.")
@click.option("--days", default=365, show_default=True, type=int, help="Days until it expires.")
def create_token_command(username: str, name: str, days: int) -> None:
    """Create a token and print it once (only its hash is stored)."""
    user = identity.find_user(username)
    if user is None:
        raise click.UsageError(f"no user named {username!r}")
    try:
        plain = identity.create_token(audit.Actor(None, "cli"), user, name, days)
    except GxpError as refused:
        raise click.UsageError(refused.message) from None
    db.session.commit()
    click.echo(plain)
    click.echo(f"Token for {username}: store it now, it cannot be shown again.", err=True)


def _time_zone(_ctx: click.Context, _param: click.Parameter, value: str | None) -> str | None:
    if value is not None and value not in identity.time_zones():
        raise click.BadParameter(f"{value!r} is not an IANA time zone (e.g. Asia/Shanghai).")
    return value


_timezone_option = click.option("--timezone", callback=_time_zone,
                                help="IANA zone times are shown in (e.g. Asia/Shanghai).")
_locale_option = click.option("--locale", type=click.Choice(LOCALES),
                              help="Language of the pages.")


@users_cli.command("create")
@click.argument("username")
@click.option("--name", "full_name", required=True, help="Printed name (shown on signatures).")
@click.option("--role", "role_ids", multiple=True, help="Role id; repeat for several.")
@click.option("--training", default="", help="Training evidence for the roles given.")
@_timezone_option
@_locale_option
@click.password_option()
def create_user_command(username: str, full_name: str, role_ids: tuple[str, ...],
                        training: str, timezone: str | None, locale: str | None,
                        password: str) -> None:
    """Create a user (the first administrator, for instance) from the shell."""
    from datetime import date

    actor = audit.Actor(None, "cli")
    try:
        user = identity.create_user(actor, username, full_name, password)
        if timezone or locale:
            identity.set_preferences(actor, user, timezone, locale)
        for role in role_ids:
            identity.record_training(actor, user, role, date.today(), None,
                                     training or "recorded at account creation (CLI)")
            identity.grant_role(actor, user, role)
    except GxpError as refused:
        db.session.rollback()
        details = "; ".join(f"{k}: {v}" for k, v in refused.fields.items())
        raise click.UsageError(refused.message + (f" ({details})" if details else "")) from None
    db.session.commit()
    click.echo(f"created {username} with roles: {', '.join(role_ids) or 'none'}")


@users_cli.command("set-preferences")
@click.argument("username")
@_timezone_option
@_locale_option
def set_preferences_command(username: str, timezone: str | None, locale: str | None) -> None:
    """Set the time zone and language a user sees (an option left out is kept)."""
    user = identity.find_user(username)
    if user is None:
        raise click.UsageError(f"no user named {username!r}")
    if timezone is None and locale is None:
        raise click.UsageError("give --timezone, --locale or both")
    try:
        identity.set_preferences(audit.Actor(None, "cli"), user, timezone or user.timezone,
                                 locale or user.locale)
    except GxpError as refused:
        db.session.rollback()
        raise click.UsageError(refused.message) from None
    db.session.commit()
    click.echo(f"{user.username}: time zone {user.timezone or 'default'}, "
               f"language {user.locale or 'default'}")
