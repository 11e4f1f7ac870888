"""`gxpflow processes validate|deploy|list`: BPMN files from the shell."""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

import click
from flask.cli import AppGroup

from engine import audit
from engine.db import db
from engine.errors import GxpError, NotAuthenticated
from engine.identity import service as identity
from engine.workflow import store
from engine.workflow.definitions import validate_bpmn

processes_cli = AppGroup("processes", help="BPMN process definitions.")


@processes_cli.command("validate")
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False))
def validate_command(files: tuple[str, ...]) -> None:
    """Check BPMN files: one line per file, OK or REFUSED with the element id and reason.

    Runs without a database: call activities may name any process in the files given; service
    tasks, any connector this installation has (the engine's and its plugins').
    """
    from engine.workflow.runtime import current_runtime

    documents: dict[str, bytes | None] = {}
    for name in files:
        try:
            documents[name] = Path(name).read_bytes()
        except OSError as error:
            documents[name] = None
            click.echo(f"{name}: REFUSED (file) cannot be read: {error.strerror}")
    keys = set()
    for xml in documents.values():
        if not xml:
            continue
        result = validate_bpmn(xml, "probe")
        if result.process_key:
            keys.add(result.process_key)
    refused = 0
    for name, xml in documents.items():
        if xml is None:
            refused += 1
            continue
        result = validate_bpmn(xml, Path(name).name, called_processes=keys,
                               connectors=set(current_runtime().connectors))
        if result.ok:
            click.echo(f"{name}: OK ({result.process_key})")
            continue
        refused += 1
        for problem in result.problems:
            click.echo(f"{name}: REFUSED ({problem.element_id}) {problem.reason}")
    if refused:
        sys.exit(1)


@processes_cli.command("deploy")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--user", "username", required=True,
              help="The process owner who deploys and signs.")
@click.option("--note", default="", help="Why this version is deployed.")
@click.option("--password", prompt=True, hide_input=True,
              help="The signer's password (prompted when left out).")
def deploy_command(file: str, username: str, note: str, password: str) -> None:
    """Deploy a BPMN file as the new active version of its process, signed (Part 11) by the
    process owner named with --user, as the modeler's deploy is."""
    user = identity.find_user(username)
    if user is None:
        click.echo(f"gxpflow: no user named {username!r}.", err=True)
        sys.exit(1)
    xml, name = Path(file).read_bytes(), Path(file).name
    try:
        current = store.active_definition(validate_bpmn(xml, name).process_key or "",
                                          missing_ok=True)
        if current is not None and current.sha256 == hashlib.sha256(xml).hexdigest():
            click.echo(f"{file}: already the active version of {current.key} "
                       f"(v{current.version}); nothing deployed")
            return
        definition = store.deploy_signed(user, xml, name, password=password,
                                         username=username, note=note)
    except NotAuthenticated as refused:
        db.session.commit()  # the failed signature attempt is evidence
        click.echo(f"{file}: REFUSED {refused.message}", err=True)
        sys.exit(1)
    except GxpError as refused:
        db.session.rollback()
        click.echo(f"{file}: REFUSED {refused.message}", err=True)
        sys.exit(1)
    db.session.commit()
    click.echo(f"{file}: deployed {definition.key} v{definition.version} ({definition.status}), "
               f"signed by {user.full_name} (signature {definition.signature_id})")


@processes_cli.command("list")
def list_command() -> None:
    """Every version of every process, newest first."""
    for definition in store.definitions():
        click.echo(f"{definition.key:28} v{definition.version:<4} {definition.status:8} "
                   f"{definition.deployed_at:%Y-%m-%d %H:%M}Z  {definition.sha256[:12]}  "
                   f"{definition.filename}")


@processes_cli.command("message")
@click.argument("name")
@click.option("--payload", default="{}", help="The message's payload, a JSON object.")
@click.option("--correlation", default="", help="Only instances waiting with this value.")
@click.option("--site", default=None, help="Site code for processes the message starts.")
def message_command(name: str, payload: str, correlation: str, site: str | None) -> None:
    """Send a message: to the instances waiting for it and, without --correlation, starting
    every process whose start event catches it."""
    import json

    from engine.workflow.messages import start_by_message
    from engine.workflow.runtime import current_runtime

    try:
        body = json.loads(payload)
    except ValueError as err:
        click.echo(f"--payload is not JSON: {err}", err=True)
        sys.exit(2)
    if not isinstance(body, dict):
        click.echo("--payload must be a JSON object", err=True)
        sys.exit(2)
    actor = audit.Actor(None, "cli")
    reached = current_runtime().deliver_message(actor, name, body, correlation=correlation)
    started = [] if correlation else start_by_message(actor, name, body, site_code=site)
    db.session.commit()
    click.echo(f"{name}: reached {len(reached)} waiting instance(s); started "
               + (", ".join(f"{i.process_key} #{i.id}" for i in started) or "none"))
