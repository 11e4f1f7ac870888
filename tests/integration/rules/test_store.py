"""Import, versions, signed activation per site, refusals, history and the active packs."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from engine.audit import AuditEvent
from engine.db import db, utcnow
from engine.errors import Conflict, InvalidInput, NotAuthenticated, PermissionDenied
from engine.identity.models import Signature
from engine.rules import store
from engine.rules.errors import PackError
from engine.rules.models import RulePackActivation
from engine.signatures import check
from tests.integration.rules.conftest import CLI, copy_pack, edit
from tests.support.factories import PASSWORD


def events(action: str) -> list[AuditEvent]:
    return list(db.session.scalars(select(AuditEvent).where(AuditEvent.action == action)
                                   .order_by(AuditEvent.seq)))


def test_import_is_idempotent_by_content(ctx: Flask) -> None:
    first = store.import_folder(CLI, "nmpa")
    db.session.commit()
    again = store.import_folder(CLI, "nmpa")
    assert first.created and not again.created
    assert again.version.id == first.version.id
    row = first.version
    assert (row.pack_id, row.region, row.version, row.status) == ("nmpa", "CN", "2024.7.2",
                                                                  "passed")
    assert row.cases_passed == row.case_count > 50
    assert row.pack_yaml == (Path(__file__).parents[3] / "rules/nmpa/pack.yaml").read_text()
    assert len(row.sha256) == 64
    db.session.commit()
    assert [e.entity_id for e in events("rules.import")] == [str(row.id)]


def test_invalid_pack_is_refused_naming_file_rule_and_field(ctx: Flask, tmp_path: Path) -> None:
    folder = copy_pack("fda", tmp_path)
    edit(folder / "pack.yaml", "{field: inspection_completed, eq: false}",
         "{field: inspection_complete, eq: false}")
    with pytest.raises(PackError) as refused:
        store.import_folder(CLI, folder)
    message = refused.value.message
    assert "fda/pack.yaml" in message
    assert "rule fda-11.10f-release-before-inspection" in message
    assert "inspection_complete" in message
    assert refused.value.fields["rule"] == "fda-11.10f-release-before-inspection"
    assert store.versions() == []


def test_changed_content_needs_a_new_version(ctx: Flask, tmp_path: Path) -> None:
    store.import_folder(CLI, "mdr")
    folder = copy_pack("mdr", tmp_path)
    edit(folder / "cases.yaml", "# ", "# edited: ")
    with pytest.raises(Conflict, match="new version number"):
        store.import_folder(CLI, folder)


def test_activate_with_signature(ctx: Flask, sites: None, officer: Any,
                                 shipped: dict[str, Any]) -> None:
    nmpa = shipped["nmpa"]
    with pytest.raises(NotAuthenticated, match="password is wrong"):
        store.activate(officer, nmpa, "SH", password="wrong-password-1", username="sarah",
                       reason="go live")
    db.session.rollback()
    assert store.active_versions("SH") == []
    activation = store.activate(officer, nmpa, "SH", password=PASSWORD, username="sarah",
                                reason="go live")
    db.session.commit()
    assert [row.label for row in store.active_versions("SH")] == ["nmpa 2024.7.2"]
    assert store.active_versions("CHI") == []
    signature = db.session.get(Signature, activation.signature_id)
    assert (signature.meaning, signature.printed_name) == ("approved", "Sarah Miller")
    site = activation.site_id
    assert site is not None
    assert check(signature, store.signed_content(
        nmpa, store._site("SH"), activation.effective_at)).valid
    [event] = events("rules.activate")
    after = json.loads(event.after)
    assert (event.actor_name, after["site"], after["version"]) == ("Sarah Miller", "SH",
                                                                   "2024.7.2")
    assert after["signature_id"] == signature.id and after["signed_by"] == "Sarah Miller"
    assert event.reason == "go live"
    with pytest.raises(Conflict, match="already active"):
        store.activate(officer, nmpa, "SH", password=PASSWORD, username="sarah", reason="go live")


def test_activation_needs_a_reason(ctx: Flask, sites: None, officer: Any,
                                   shipped: dict[str, Any]) -> None:
    with pytest.raises(InvalidInput, match="Say why this version is activated") as refused:
        store.activate(officer, shipped["nmpa"], "SH", password=PASSWORD, username="sarah",
                       reason="  ")
    assert refused.value.fields == {"reason": "A reason is required."}
    db.session.rollback()
    assert db.session.scalar(select(Signature.id)) is None  # refused before anything is signed


def test_activation_needs_the_role_and_the_region(ctx: Flask, sites: None, officer: Any,
                                                  make_user: Any,
                                                  shipped: dict[str, Any]) -> None:
    clerk = make_user("lina", "receiving_clerk")
    with pytest.raises(PermissionDenied):
        store.activate(clerk, shipped["nmpa"], "SH", password=PASSWORD, username="lina",
                       reason="go live")
    with pytest.raises(InvalidInput, match="region CN"):
        store.activate(officer, shipped["nmpa"], "CHI", password=PASSWORD, username="sarah",
                       reason="go live")
    with pytest.raises(InvalidInput, match="in the past"):
        store.activate(officer, shipped["nmpa"], "SH", password=PASSWORD, username="sarah",
                       effective_at=utcnow() - timedelta(days=1), reason="go live")


def test_activation_refused_while_a_case_fails(ctx: Flask, sites: None, officer: Any,
                                               failing_pack: Path) -> None:
    done = store.import_folder(officer, failing_pack)
    db.session.commit()
    assert done.version.status == "failed"
    assert done.version.cases_passed == done.version.case_count - 1
    with pytest.raises(InvalidInput, match=r"1 of \d+ cases of nmpa 2024\.7\.2 fail") as refused:
        store.activate(officer, done.version, "SH", password=PASSWORD, username="sarah",
                       reason="go live")
    assert "supplier file complete" in refused.value.message
    db.session.rollback()
    assert db.session.scalar(select(RulePackActivation.id)) is None
    assert db.session.scalar(select(Signature.id)) is None


def test_new_activation_supersedes_and_history_is_kept(ctx: Flask, sites: None, officer: Any,
                                                       shipped: dict[str, Any],
                                                       tmp_path: Path) -> None:
    store.activate(officer, shipped["nmpa"], "SH", password=PASSWORD, username="sarah",
                   reason="go live")
    folder = copy_pack("nmpa", tmp_path)
    edit(folder / "pack.yaml", 'version: "2024.7.2"', 'version: "2024.8.0"')
    newer = store.import_folder(officer, folder).version
    later = utcnow() + timedelta(hours=2)
    store.activate(officer, newer, "SH", password=PASSWORD, username="sarah",
                   effective_at=later, first_in_session=False, reason="go live")
    db.session.commit()
    assert [row.version for row in store.active_versions("SH")] == ["2024.7.2"]
    assert [row.version for row in store.active_versions("SH", later)] == ["2024.8.0"]
    assert [a.pack_version.version for a in store.activations("SH")] == ["2024.8.0",
                                                                         "2024.7.2"]
    view = store.ActivePacks()
    assert [p.pack.version for p in view.for_site("SH")] == ["2024.7.2"]
    assert [p.pack.version for p in view.for_site("SH", later + timedelta(seconds=1))] == \
        ["2024.8.0"]
    assert view.reloads == 2  # the scheduled activation came into effect: reloaded once
    diff = store.diff_versions(shipped["nmpa"], newer)
    assert [(c.kind, c.field) for c in diff] == [("pack", "version")]


def test_several_packs_and_switching_off(ctx: Flask, sites: None, officer: Any,
                                         shipped: dict[str, Any], tmp_path: Path) -> None:
    folder = copy_pack("nmpa", tmp_path)
    edit(folder / "pack.yaml", "id: nmpa", "id: nmpa-extra")
    extra = store.import_folder(officer, folder).version
    store.activate(officer, shipped["nmpa"], "SH", password=PASSWORD, username="sarah",
                   reason="go live")
    store.activate(officer, extra, "SH", password=PASSWORD, username="sarah", reason="go live")
    db.session.commit()
    assert [row.pack_id for row in store.active_versions("SH")] == ["nmpa", "nmpa-extra"]
    with pytest.raises(InvalidInput, match="Say why"):
        store.deactivate(officer, "nmpa-extra", "SH", password=PASSWORD, username="sarah",
                         reason=" ")
    store.deactivate(officer, "nmpa-extra", "SH", password=PASSWORD, username="sarah",
                     reason="company pack retired")
    db.session.commit()
    assert [row.pack_id for row in store.active_versions("SH")] == ["nmpa"]
    assert events("rules.deactivate")[0].reason == "company pack retired"
    with pytest.raises(Conflict, match="not active"):
        store.deactivate(officer, "nmpa-extra", "SH", password=PASSWORD, username="sarah",
                         reason="again")


@pytest.mark.production
def test_activation_history_is_append_only_on_postgresql(ctx: Flask, sites: None,
                                                         officer: Any,
                                                         shipped: dict[str, Any]) -> None:
    from sqlalchemy import text
    from sqlalchemy.exc import DBAPIError

    store.activate(officer, shipped["nmpa"], "SH", password=PASSWORD, username="sarah",
                   reason="go live")
    db.session.commit()
    for statement in ("UPDATE rule_pack_activation SET reason = 'x'",
                      "DELETE FROM rule_pack_activation"):
        with pytest.raises(DBAPIError, match="append-only"):
            db.session.execute(text(statement))
        db.session.rollback()
