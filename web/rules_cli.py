"""`gxpflow rules validate|test|diff|import|list|activate|deactivate|active`: rule packs from
the shell.

PACK is a pack name (nmpa, fda, mdr: a folder under rules/) or a pack folder path; where a
stored version is meant, write `ID@VERSION` (e.g. `nmpa@2024.7.0`).
"""

from __future__ import annotations

import sys
from datetime import datetime
from typing import NoReturn
from zoneinfo import ZoneInfo

import click
from flask.cli import AppGroup
from sqlalchemy import select

from engine import audit
from engine.db import db
from engine.errors import GxpError, NotAuthenticated
from engine.identity import service as identity
from engine.identity.models import User
from engine.masterdata.models import Site
from engine.rules import store
from engine.rules.lifecycle import render_diff, run_cases
from engine.rules.pack import Pack, load_pack_text

rules_cli = AppGroup("rules", help="Regional rule packs: validate, test, diff, activate.")

CLI_ACTOR = audit.Actor(None, "cli")


def _refuse(what: str, error: GxpError) -> NoReturn:
    db.session.rollback()
    click.echo(f"{what}: REFUSED {error.message}", err=True)
    sys.exit(1)


def _folder_pack(name: str) -> Pack:
    files = store.read_folder(name)
    return load_pack_text(files.pack_text, files.cases_text, shown=files.shown)


def _any_pack(name: str) -> Pack:
    """A stored version (`ID@VERSION`) or a pack folder (name or path)."""
    if "@" in name:
        return store.pack_of(store.version_by_label(name))
    return _folder_pack(name)


@rules_cli.command("validate")
@click.argument("pack")
def validate_command(pack: str) -> None:
    """Check a pack against the schema and compile it (exit 1 with file, rule and field)."""
    try:
        files = store.read_folder(pack)
        loaded = store.check_files(files)
    except GxpError as refused:
        _refuse(pack, refused)
    click.echo(f"{pack}: OK {loaded.id} {loaded.version} ({loaded.region}), "
               f"{len(loaded.rules)} rules on {len(loaded.steps)} steps, "
               f"{len(loaded.cases)} cases, sha256 {files.sha256[:12]}")


@rules_cli.command("test")
@click.argument("pack")
def test_command(pack: str) -> None:
    """Run every case of a pack: PASS or FAIL per case; exit 1 if any fails."""
    try:
        loaded = _any_pack(pack)
        report = run_cases(loaded)
    except GxpError as refused:
        _refuse(pack, refused)
    for result in report.results:
        if result.passed:
            click.echo(f"PASS {result.step:24} {result.name}")
            continue
        click.echo(f"FAIL {result.step:24} {result.name}")
        click.echo(f"       expected: {', '.join(result.expected) or 'nothing'}")
        click.echo(f"       got:      {', '.join(result.got) or 'nothing'}")
    passed = len(report.results) - len(report.failed)
    click.echo(f"{loaded.id} {loaded.version}: {passed}/{len(report.results)} cases passed")
    if report.untriggered:
        click.echo(f"note: no case fires {', '.join(report.untriggered)}")
    if report.never_quiet:
        click.echo(f"note: no case leaves quiet {', '.join(report.never_quiet)}")
    if not report.ok:
        sys.exit(1)


@rules_cli.command("diff")
@click.argument("old")
@click.argument("new")
def diff_command(old: str, new: str) -> None:
    """What changed from OLD to NEW (each a pack name, folder, or stored ID@VERSION)."""
    try:
        click.echo(render_diff(_any_pack(old), _any_pack(new)))
    except GxpError as refused:
        _refuse(f"{old} -> {new}", refused)


@rules_cli.command("import")
@click.argument("pack")
def import_command(pack: str) -> None:
    """Store a pack folder as a new version (the same content again changes nothing)."""
    try:
        done = store.import_folder(CLI_ACTOR, pack)
    except GxpError as refused:
        _refuse(pack, refused)
    db.session.commit()
    row = done.version
    state = "imported" if done.created else "already imported"
    click.echo(f"{pack}: {state} {row.label} (id {row.id}, cases {row.status}, "
               f"sha256 {row.sha256[:12]})")


@rules_cli.command("list")
def list_command() -> None:
    """Every stored version, and where each is in effect."""
    active: dict[int, list[str]] = {}
    for site in db.session.scalars(select(Site).order_by(Site.code)):
        for row in store.active_versions(site):
            active.setdefault(row.id, []).append(site.code)
    for row in store.versions():
        sites = ", ".join(active.get(row.id, [])) or "-"
        click.echo(f"{row.pack_id:8} {row.version:14} {row.region}  {row.status:8} "
                   f"{row.imported_at:%Y-%m-%d %H:%M}Z  {row.sha256[:12]}  active at: {sites}")


@rules_cli.command("active")
@click.option("--site", "site_code", required=True, help="Site code, e.g. SH.")
def active_command(site_code: str) -> None:
    """The activation history of a site, newest first."""
    try:
        rows = store.activations(site_code)
    except GxpError as refused:
        _refuse(site_code, refused)
    in_effect = {row.id for row in store.active_versions(site_code)}
    for row in rows:
        state = "off" if row.deactivated else (
            "IN EFFECT" if row.pack_version_id in in_effect else "")
        click.echo(f"{row.effective_at:%Y-%m-%d %H:%M}Z  {row.pack_id:8} "
                   f"{row.pack_version.version:14} {row.activated_by_name:24} "
                   f"sig {row.signature_id or '-':>5}  {state}")


def _parse_effective(text: str | None, site: Site) -> datetime | None:
    """ISO date or date-time; without a zone it is the site's local time."""
    if not text or text == "now":
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise click.BadParameter(f"{text!r} is not an ISO date or date-time "
                                 "(e.g. 2026-07-01 or 2026-07-01T08:00+08:00)") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=ZoneInfo(site.timezone))
    return moment


def _signer(username: str) -> User:
    user = identity.find_user(username)
    if user is None:
        click.echo(f"gxpflow: no user named {username!r}.", err=True)
        sys.exit(1)
    return user


@rules_cli.command("activate")
@click.argument("pack")
@click.option("--site", "site_code", required=True, help="Site code, e.g. SH.")
@click.option("--user", "username", required=True, help="The compliance officer who signs.")
@click.option("--effective", default=None,
              help="When it takes effect: ISO date or date-time (site time unless a zone is "
                   "given); default now.")
@click.option("--reason", required=True, help="Why this version is activated.")
@click.option("--password", prompt=True, hide_input=True,
              help="The signer's password (prompted when left out).")
def activate_command(pack: str, site_code: str, username: str, effective: str | None,
                     reason: str, password: str) -> None:
    """Activate PACK (a folder, imported first, or a stored ID@VERSION) for a site, signed."""
    user = _signer(username)
    try:
        site = db.session.scalar(select(Site).where(Site.code == site_code))
        if site is None:
            raise GxpError(f"No site with code {site_code!r}.")
        when = _parse_effective(effective, site)
        if "@" in pack:
            row = store.version_by_label(pack)
        else:
            done = store.import_folder(user, pack)
            row = done.version
        activation = store.activate(user, row, site, password=password, username=username,
                                    effective_at=when, reason=reason)
    except NotAuthenticated as refused:
        db.session.commit()  # the failed signature attempt is evidence
        click.echo(f"{pack}: REFUSED {refused.message}", err=True)
        sys.exit(1)
    except GxpError as refused:
        _refuse(pack, refused)
    db.session.commit()
    click.echo(f"{row.label}: active at {site.code} from "
               f"{activation.effective_at:%Y-%m-%d %H:%M}Z, signed by {user.full_name} "
               f"(signature {activation.signature_id})")


@rules_cli.command("deactivate")
@click.argument("pack_id")
@click.option("--site", "site_code", required=True)
@click.option("--user", "username", required=True)
@click.option("--reason", required=True, help="Why the pack is switched off.")
@click.option("--password", prompt=True, hide_input=True)
def deactivate_command(pack_id: str, site_code: str, username: str, reason: str,
                       password: str) -> None:
    """Switch a pack off for a site, signed."""
    user = _signer(username)
    try:
        store.deactivate(user, pack_id, site_code, password=password, username=username,
                         reason=reason)
    except NotAuthenticated as refused:
        db.session.commit()
        click.echo(f"{pack_id}: REFUSED {refused.message}", err=True)
        sys.exit(1)
    except GxpError as refused:
        _refuse(pack_id, refused)
    db.session.commit()
    click.echo(f"{pack_id}: switched off at {site_code}")
