"""`gxpflow processes validate|deploy|list` as a process owner runs them from a shell."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from engine.audit import verify
from engine.db import db
from engine.identity.models import Signature
from engine.workflow.models import ProcessDefinition
from tests.support.factories import PASSWORD, make_user

SAMPLES = Path(__file__).resolve().parents[2] / "unit" / "workflow" / "bpmn"


def gxpflow(app: Flask, *args: str, input: str | None = None) -> Any:
    return app.test_cli_runner().invoke(args=["processes", *args], input=input)


def test_validate_prints_one_line_per_file_and_exits_1_on_any_refusal(
        app: Flask, project_root: Path, tmp_path: Path) -> None:
    shipped = sorted((project_root / "processes" / "bpmn").glob("*.bpmn"))
    result = gxpflow(app, "validate", *map(str, shipped))
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [f"{f}: OK ({f.stem})" for f in shipped]

    empty = tmp_path / "empty.bpmn"
    empty.write_bytes(b"")
    broken = tmp_path / "broken.bpmn"
    broken.write_text("<definitions")
    missing = tmp_path / "missing.bpmn"
    result = gxpflow(app, "validate", str(shipped[0]), str(empty), str(broken), str(missing))
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    assert len(lines) == 4, lines  # every file answered, the empty one too
    assert f"{missing}: REFUSED (file) cannot be read: No such file or directory" in lines
    assert f"{shipped[0]}: OK ({shipped[0].stem})" in lines
    assert f"{empty}: REFUSED ((document)) The file is empty." in lines
    assert any(line.startswith(f"{broken}: REFUSED ((document)) ") for line in lines)

    # A service task may call the connectors this installation has, as deploying checks.
    stock_check = project_root / "tests" / "integration" / "workflow" / "bpmn" / "stock_check.bpmn"
    unknown = tmp_path / "unknown_connector.bpmn"
    unknown.write_bytes(stock_check.read_bytes().replace(b"gxpflow.stock_on_hand", b"erp.level"))
    result = gxpflow(app, "validate", str(stock_check), str(unknown))
    assert result.exit_code == 1
    assert result.stdout.splitlines() == [
        f"{stock_check}: OK (stock_check)",
        f"{unknown}: REFUSED (Task_count) The service task calls the connector 'erp.level', "
        "which is not registered (registered: gxpflow.stock_on_hand)."]


def test_deploy_is_signed_by_a_process_owner(app: Flask) -> None:
    with app.app_context():
        make_user("owner", "process_owner", full_name="Olga Owner")
        make_user("clerk", "receiving_clerk")
        db.session.commit()
    sample = str(SAMPLES / "putaway.bpmn")

    nobody = gxpflow(app, "deploy", sample, "--user", "ghost", "--password", PASSWORD)
    assert nobody.exit_code == 1 and "no user named 'ghost'" in nobody.stderr
    clerk = gxpflow(app, "deploy", sample, "--user", "clerk", "--password", PASSWORD)
    assert clerk.exit_code == 1 and "REFUSED" in clerk.stderr
    wrong = gxpflow(app, "deploy", sample, "--user", "owner", input="not-the-password\n")
    assert wrong.exit_code == 1 and "REFUSED" in wrong.stderr
    with app.app_context():
        assert db.session.scalar(select(ProcessDefinition)) is None  # nothing half-stored

    done = gxpflow(app, "deploy", sample, "--user", "owner", "--note", "first putaway",
                   input=f"{PASSWORD}\n")  # the password is prompted, not echoed
    assert done.exit_code == 0, done.output
    assert "deployed putaway v1 (active), signed by Olga Owner" in done.stdout
    assert PASSWORD not in done.output
    again = gxpflow(app, "deploy", sample, "--user", "owner", "--password", PASSWORD)
    assert again.exit_code == 0, again.output
    assert "already the active version of putaway (v1); nothing deployed" in again.stdout

    with app.app_context():
        definition = db.session.scalars(select(ProcessDefinition)).one()
        signature = db.session.get(Signature, definition.signature_id)
        assert signature is not None and signature.printed_name == "Olga Owner"
        assert definition.note == "first putaway"
        assert verify().ok
    listed = gxpflow(app, "list")
    assert listed.exit_code == 0
    assert listed.stdout.split()[:3] == ["putaway", "v1", "active"]


@pytest.mark.parametrize("text", ["<definitions", ""])
def test_deploy_refuses_a_bad_file_naming_the_reason(app: Flask, tmp_path: Path,
                                                     text: str) -> None:
    with app.app_context():
        make_user("owner", "process_owner")
        db.session.commit()
    bad = tmp_path / "bad.bpmn"
    bad.write_text(text)
    result = gxpflow(app, "deploy", str(bad), "--user", "owner", "--password", PASSWORD)
    assert result.exit_code == 1
    assert result.stderr.startswith(f"{bad}: REFUSED bad.bpmn was refused: (document): ")
    with app.app_context():
        assert db.session.scalar(select(ProcessDefinition)) is None
