"""`gxpflow rules ...` as a compliance officer runs it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from engine.db import db
from engine.rules import store
from engine.rules.pack import load_pack
from tests.integration.rules.conftest import copy_pack, edit, make_sites
from tests.support.backends import Stack
from tests.support.factories import PASSWORD

GXPFLOW = str(Path(sys.executable).with_name("gxpflow"))


def gxpflow(app: Flask, *args: str, input: str | None = None) -> Any:
    return app.test_cli_runner().invoke(args=["rules", *args], input=input)


@pytest.mark.parametrize("name", ["nmpa", "fda", "mdr"])
def test_validate_and_test_the_shipped_packs(app: Flask, name: str) -> None:
    validated = gxpflow(app, "validate", name)
    assert validated.exit_code == 0, validated.output
    assert validated.stdout.startswith(f"{name}: OK {name} ")
    tested = gxpflow(app, "test", name)
    assert tested.exit_code == 0, tested.output
    count = len(load_pack(name).cases)
    assert f"{count}/{count} cases passed" in tested.stdout
    assert "FAIL" not in tested.stdout


def test_a_folder_path_works_too(app: Flask, project_root: Path) -> None:
    result = gxpflow(app, "validate", str(project_root / "rules" / "mdr"))
    assert result.exit_code == 0, result.output


def test_a_broken_pack_is_refused_naming_file_rule_and_field(app: Flask,
                                                             tmp_path: Path) -> None:
    folder = copy_pack("nmpa", tmp_path)
    edit(folder / "pack.yaml", "effect: quarantine\n    params: {status: quarantine, "
                               "temperature_controlled: true}",
         "effect: quarantine\n    params: {status: frozen, temperature_controlled: true}")
    for command in ("validate", "test"):
        result = gxpflow(app, command, str(folder))
        assert result.exit_code == 1
        assert "REFUSED" in result.stderr
        assert "nmpa/pack.yaml: rule nmpa-gsp63-cold-quarantine: params.status" in \
            result.stderr
        assert "'frozen'" in result.stderr


def test_test_exits_non_zero_on_a_failing_case(app: Flask, failing_pack: Path) -> None:
    result = gxpflow(app, "test", str(failing_pack))
    assert result.exit_code == 1
    assert "FAIL master.supplier_review" in result.stdout
    assert "expected: nmpa-gsp53-supplier-docs" in result.stdout
    assert "103/104 cases passed" in result.stdout


def test_diff_a_stored_version_against_a_folder(app: Flask, tmp_path: Path) -> None:
    imported = gxpflow(app, "import", "fda")
    assert imported.exit_code == 0 and "imported fda 2024.1.0" in imported.stdout
    assert "already imported" in gxpflow(app, "import", "fda").stdout
    folder = copy_pack("fda", tmp_path)
    edit(folder / "pack.yaml", 'version: "2024.1.0"', 'version: "2024.2.0"')
    edit(folder / "pack.yaml", "effect: warn", "effect: block")
    result = gxpflow(app, "diff", "fda@2024.1.0", str(folder))
    assert result.exit_code == 0, result.output
    assert "fda 2024.1.0 -> fda 2024.2.0" in result.stdout
    assert "pack version: 2024.1.0 -> 2024.2.0" in result.stdout
    assert "effect: warn -> block" in result.stdout
    unknown = gxpflow(app, "diff", "fda@9.9", "fda")
    assert unknown.exit_code == 1 and "No stored version" in unknown.stderr


def test_activate_prompts_for_the_password_and_signs(app: Flask, make_user: Any) -> None:
    with app.app_context():
        make_sites()
    make_user("sarah", "compliance_officer", full_name="Sarah Miller")
    wrong = gxpflow(app, "activate", "nmpa", "--site", "SH", "--user", "sarah",
                    "--reason", "go live", input="not-the-password\n")
    assert wrong.exit_code == 1
    assert "password is wrong" in wrong.stderr
    result = gxpflow(app, "activate", "nmpa", "--site", "SH", "--user", "sarah",
                     "--effective", "now", "--reason", "go live", input=f"{PASSWORD}\n")
    assert result.exit_code == 0, result.output
    assert "nmpa 2024.7.2: active at SH" in result.stdout
    assert "signed by Sarah Miller" in result.stdout
    with app.app_context():
        assert [row.label for row in store.active_versions("SH")] == ["nmpa 2024.7.2"]
        db.session.remove()
    listing = gxpflow(app, "list")
    assert "active at: SH" in listing.stdout
    history = gxpflow(app, "active", "--site", "SH")
    assert "Sarah Miller" in history.stdout and "IN EFFECT" in history.stdout
    region = gxpflow(app, "activate", "nmpa", "--site", "CHI", "--user", "sarah",
                     "--reason", "go live", input=f"{PASSWORD}\n")
    assert region.exit_code == 1 and "region" in region.stderr


def test_activation_refused_when_a_case_fails(app: Flask, make_user: Any,
                                              failing_pack: Path) -> None:
    with app.app_context():
        make_sites()
    make_user("sarah", "compliance_officer")
    result = gxpflow(app, "activate", str(failing_pack), "--site", "SH", "--user", "sarah",
                     "--reason", "go live", input=f"{PASSWORD}\n")
    assert result.exit_code == 1
    assert "Activation refused: 1 of 104 cases of nmpa 2024.7.2 fail" in result.stderr


def test_the_real_command_validates_in_a_shell(stack: Stack) -> None:
    done = subprocess.run([GXPFLOW, "rules", "test", "mdr"], env=stack.environ(),
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert "mdr 2024.1.1: 44/44 cases passed" in done.stdout


def test_validate_and_import_refuse_an_alias_bomb_in_brief(app: Flask, tmp_path: Path) -> None:
    folder = copy_pack("fda", tmp_path)
    laughs = ['  - &l0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    laughs += [f"  - &l{n} [{', '.join([f'*l{n - 1}'] * 9)}]" for n in range(1, 9)]
    text = (folder / "pack.yaml").read_text(encoding="utf-8")
    line = text[:text.index("id: fda")].count("\n") + 6  # where the first *l3 stands
    edit(folder / "pack.yaml", "id: fda", "bomb:\n" + "\n".join(laughs) + "\nid: *l8")
    for command in ("validate", "test", "import"):
        result = gxpflow(app, command, str(folder))
        assert result.exit_code == 1
        assert result.stderr.startswith(
            f"{folder}: REFUSED {folder.parent.name}/fda/pack.yaml: line {line}: alias *l3 makes "
            "the aliases of this file stand for more than 10,000 values")
        assert len(result.stderr) < 2000
    with app.app_context():
        assert store.versions() == []
        db.session.remove()
