"""Segregation of duties in user administration, through the pages: nobody grants or revokes
their own roles or records their own training, and GxPFlow is never left without an active
administrator. Each refusal is shown in the page and writes nothing; the audit trail still
verifies. Another administrator (or the shell, for the first one) does it instead."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from engine import audit
from engine.audit import AuditEvent
from engine.db import db
from engine.identity import roles
from engine.identity import service as identity
from engine.identity.models import Training, User, UserRole
from tests.support.factories import PASSWORD
from tests.support.web import login, submit

TODAY = date.today()


def user_id(app: Flask, username: str) -> int:
    with app.app_context():
        found = identity.find_user(username)
        assert found is not None
        return found.id


def written(app: Flask) -> tuple[Any, ...]:
    """What a refused act must leave as it was: the audit trail, the training records, every
    grant and revocation, and who is active."""
    with app.app_context():
        return (
            db.session.scalar(select(func.count()).select_from(AuditEvent)),
            db.session.execute(select(Training.id, Training.user_id, Training.role)
                               .order_by(Training.id)).all(),
            db.session.execute(select(UserRole.id, UserRole.role, UserRole.revoked_at)
                               .order_by(UserRole.id)).all(),
            db.session.execute(select(User.id, User.active).order_by(User.id)).all(),
        )


def effective(app: Flask, username: str) -> set[str]:
    with app.app_context():
        found = identity.find_user(username)
        assert found is not None
        return identity.effective_roles(found)


def chain_verifies(app: Flask) -> bool:
    with app.app_context():
        return audit.verify().ok


def training_form(role: str, evidence: str = "GSP course, certificate 2026-201") -> dict[str, str]:
    return {"role": role, "trained_on": (TODAY - timedelta(days=2)).isoformat(),
            "expires_on": (TODAY + timedelta(days=365)).isoformat(), "evidence": evidence}


@pytest.fixture
def root(app: Flask, client: FlaskClient, make_user: Any) -> FlaskClient:
    """Rosa, the only administrator, logged in."""
    make_user("root", roles.ADMINISTRATOR, full_name="Rosa Admin")
    login(client, "root")
    return client


def test_an_administrator_cannot_grant_themself_a_role(app: Flask, root: FlaskClient) -> None:
    rosa = user_id(app, "root")
    with app.app_context():  # trained, so only the segregation of duties stands in the way
        identity.record_training(audit.SYSTEM, db.session.get(User, rosa),
                                 roles.QUALITY_MANAGER, TODAY, None, "QM course")
        db.session.commit()
    before = written(app)
    url = f"/admin/users/{rosa}"
    own = root.get(url).get_data(as_text=True)
    assert "changed by another administrator (segregation of duties)" in own
    assert f'action="{url}/roles"' not in own and f'action="{url}/training"' not in own
    page = submit(root, f"{url}/roles", {"role": roles.QUALITY_MANAGER}, form_url=url,
                  follow_redirects=True).get_data(as_text=True)
    assert "You cannot grant a role to yourself: another administrator must do it." in page
    assert written(app) == before
    assert effective(app, "root") == {roles.ADMINISTRATOR}
    assert chain_verifies(app)


def test_an_administrator_cannot_record_their_own_training(app: Flask,
                                                           root: FlaskClient) -> None:
    rosa = user_id(app, "root")
    before = written(app)
    url = f"/admin/users/{rosa}"
    page = submit(root, f"{url}/training", training_form(roles.QUALITY_MANAGER), form_url=url,
                  follow_redirects=True).get_data(as_text=True)
    assert ("You cannot record your own training: another administrator or a quality manager "
            "must do it.") in page
    assert "Training for Quality manager recorded." not in page
    assert written(app) == before
    assert chain_verifies(app)


def test_a_quality_manager_cannot_record_their_own_training(
    app: Flask, client: FlaskClient, make_user: Any
) -> None:
    make_user("quinn", roles.QUALITY_MANAGER)
    login(client, "quinn")
    quinn = user_id(app, "quinn")
    before = written(app)
    url = f"/admin/users/{quinn}"
    page = submit(client, f"{url}/training", training_form(roles.ADMINISTRATOR), form_url=url,
                  follow_redirects=True).get_data(as_text=True)
    assert "You cannot record your own training" in page
    assert written(app) == before
    assert chain_verifies(app)


def test_an_administrator_cannot_revoke_their_own_roles(
    app: Flask, root: FlaskClient, make_user: Any
) -> None:
    make_user("cora", roles.ADMINISTRATOR, full_name="Cora Admin")  # not the last one
    with app.app_context():
        identity.record_training(audit.SYSTEM, identity.find_user("root"), roles.INSPECTOR,
                                 TODAY, None, "Inspection course")
        identity.grant_role(audit.SYSTEM, identity.find_user("root"), roles.INSPECTOR)
        db.session.commit()
    rosa = user_id(app, "root")
    url = f"/admin/users/{rosa}"
    before = written(app)
    for role in (roles.INSPECTOR, roles.ADMINISTRATOR):
        page = submit(root, f"{url}/roles/revoke", {"role": role, "reason": "Changing jobs"},
                      form_url=url, follow_redirects=True).get_data(as_text=True)
        assert "You cannot revoke your own role: another administrator must do it." in page
        assert "revoked from Rosa Admin" not in page
    assert written(app) == before
    assert effective(app, "root") == {roles.ADMINISTRATOR, roles.INSPECTOR}
    assert chain_verifies(app)


def test_an_administrator_cannot_reset_their_own_password_or_two_factor(
    app: Flask, root: FlaskClient, make_user: Any
) -> None:
    make_user("cora", roles.ADMINISTRATOR)  # another administrator could do it
    rosa = user_id(app, "root")
    with app.app_context():
        found = db.session.get(User, rosa)
        identity.start_totp_enrolment(found)
        found.totp_enabled = True
        db.session.commit()
    before = written(app)
    url = f"/admin/users/{rosa}"
    own = root.get(url).get_data(as_text=True)
    assert f'action="{url}/password"' not in own and f'action="{url}/two-factor"' not in own
    assert 'href="/auth/password"' in own
    page = submit(root, f"{url}/password", {"password": "Temporary-pass-7",
                                            "reason": "Forgot it"},
                  form_url=url, follow_redirects=True).get_data(as_text=True)
    assert ("You cannot reset your own password: change it on your password page, or ask "
            "another administrator.") in page
    totp = submit(root, f"{url}/two-factor", {"reason": "Lost my phone"}, form_url=url,
                  follow_redirects=True).get_data(as_text=True)
    assert "You cannot reset your own two-factor log-in" in totp
    root.get("/lang/zh")
    zh = submit(root, f"{url}/password", {"password": "Temporary-pass-7", "reason": "忘记"},
                form_url=url, follow_redirects=True).get_data(as_text=True)
    assert "您不能重置自己的密码" in zh
    assert written(app) == before
    with app.app_context():
        found = db.session.get(User, rosa)
        assert found.totp_enabled and not found.must_change_password
    assert chain_verifies(app)
    assert login(app.test_client(), "root").headers["Location"].startswith(
        "/auth/second-factor")


def test_the_last_active_administrator_keeps_the_role(
    app: Flask, root: FlaskClient, make_user: Any
) -> None:
    # Two more administrators, neither able to act: Bert is deactivated, Ada's training for
    # the role has expired (the role is suspended).
    make_user("bert", roles.ADMINISTRATOR)
    make_user("ada", roles.ADMINISTRATOR)
    with app.app_context():
        db.session.get(User, user_id(app, "bert")).active = False
        for record in db.session.scalars(select(Training).where(
                Training.user_id == user_id(app, "ada"))):
            record.expires_on = TODAY - timedelta(days=1)
        db.session.commit()
    rosa = user_id(app, "root")
    url = f"/admin/users/{rosa}"
    before = written(app)
    page = submit(root, f"{url}/roles/revoke", {"role": roles.ADMINISTRATOR,
                                                "reason": "Leaving the company"},
                  form_url=url, follow_redirects=True).get_data(as_text=True)
    assert ("The administrator role cannot be revoked from the last active administrator: "
            "GxPFlow must always have one. Make another trained user an administrator first; "
            "they can then revoke it.") in page
    assert written(app) == before
    assert effective(app, "root") == {roles.ADMINISTRATOR}
    assert chain_verifies(app)


def test_the_last_active_administrator_cannot_be_deactivated(app: Flask,
                                                             root: FlaskClient) -> None:
    rosa = user_id(app, "root")
    before = written(app)
    page = submit(root, f"/admin/users/{rosa}/deactivate", {"reason": "Leaving the company"},
                  follow_redirects=True).get_data(as_text=True)
    assert ("The last active administrator cannot be deactivated: GxPFlow must always have "
            "one. Make another trained user an administrator first; they can then deactivate "
            "this account.") in page
    assert written(app) == before
    assert chain_verifies(app)
    assert login(app.test_client(), "root")


def test_refusals_in_chinese(app: Flask, root: FlaskClient) -> None:
    rosa = user_id(app, "root")
    url = f"/admin/users/{rosa}"
    root.get("/lang/zh")
    granted = submit(root, f"{url}/roles", {"role": roles.INSPECTOR}, form_url=url,
                     follow_redirects=True).get_data(as_text=True)
    assert "您不能为自己授予角色：须由另一名系统管理员操作。" in granted
    trained = submit(root, f"{url}/training", training_form(roles.INSPECTOR), form_url=url,
                     follow_redirects=True).get_data(as_text=True)
    assert "您不能记录自己的培训：须由另一名系统管理员或质量负责人操作。" in trained
    revoked = submit(root, f"{url}/roles/revoke", {"role": roles.ADMINISTRATOR,
                                                   "reason": "离职"},
                     form_url=url, follow_redirects=True).get_data(as_text=True)
    assert "不能撤销最后一名启用中的系统管理员的系统管理员角色" in revoked
    deactivated = submit(root, f"{url}/deactivate", {"reason": "离职"},
                         follow_redirects=True).get_data(as_text=True)
    assert "不能停用最后一名启用中的系统管理员" in deactivated


def test_another_administrator_trains_grants_revokes_and_deactivates(
    app: Flask, root: FlaskClient, make_user: Any
) -> None:
    make_user("bo", full_name="Bo Newman")
    bo = user_id(app, "bo")
    url = f"/admin/users/{bo}"
    trained = submit(root, f"{url}/training", training_form(roles.ADMINISTRATOR), form_url=url,
                     follow_redirects=True).get_data(as_text=True)
    assert "Training for Administrator recorded." in trained
    granted = submit(root, f"{url}/roles", {"role": roles.ADMINISTRATOR}, form_url=url,
                     follow_redirects=True).get_data(as_text=True)
    assert "Role Administrator granted to Bo Newman." in granted
    assert effective(app, "bo") == {roles.ADMINISTRATOR}
    with app.app_context():
        grant = db.session.scalar(select(UserRole).where(UserRole.user_id == bo))
        record = db.session.scalar(select(Training).where(Training.user_id == bo))
        assert grant.granted_by == record.recorded_by == user_id(app, "root")

    # With Bo an administrator too, Rosa is no longer the last: Bo takes her role away.
    rosa = user_id(app, "root")
    bo_client = app.test_client()
    login(bo_client, "bo")
    revoked = submit(bo_client, f"/admin/users/{rosa}/roles/revoke",
                     {"role": roles.ADMINISTRATOR, "reason": "Moved to quality"},
                     form_url=f"/admin/users/{rosa}",
                     follow_redirects=True).get_data(as_text=True)
    assert "Role Administrator revoked from Rosa Admin." in revoked
    assert effective(app, "root") == set()
    deactivated = submit(bo_client, f"/admin/users/{rosa}/deactivate",
                         {"reason": "Left the company"},
                         follow_redirects=True).get_data(as_text=True)
    assert "Rosa Admin is deactivated" in deactivated
    with app.app_context():
        actors = db.session.execute(
            select(AuditEvent.action, AuditEvent.actor_name)
            .where(AuditEvent.action.in_(("training.record", "role.grant", "role.revoke",
                                          "user.deactivate")),
                   AuditEvent.actor_id.is_not(None))
            .order_by(AuditEvent.seq)).all()
    assert actors == [("training.record", "Rosa Admin"), ("role.grant", "Rosa Admin"),
                      ("role.revoke", "Bo Newman"), ("user.deactivate", "Bo Newman")]
    assert chain_verifies(app)


def test_the_shell_creates_the_first_administrator_who_then_administers(
    app: Flask, client: FlaskClient, make_user: Any
) -> None:
    created = app.test_cli_runner().invoke(args=[
        "users", "create", "first", "--name", "First Admin", "--role", roles.ADMINISTRATOR,
        "--training", "Administrator induction", "--password", PASSWORD])
    assert created.exit_code == 0, created.output
    assert effective(app, "first") == {roles.ADMINISTRATOR}
    with app.app_context():
        record = db.session.scalar(select(Training).where(
            Training.user_id == user_id(app, "first")))
        assert record.recorded_by is None  # the shell, not a person
    make_user("ivy", full_name="Ivy Inspector")
    ivy = user_id(app, "ivy")
    with app.app_context():  # a first log-in must not force a password change here
        db.session.get(User, user_id(app, "first")).must_change_password = False
        db.session.commit()
    login(client, "first")
    url = f"/admin/users/{ivy}"
    submit(client, f"{url}/training", training_form(roles.INSPECTOR), form_url=url)
    granted = submit(client, f"{url}/roles", {"role": roles.INSPECTOR}, form_url=url,
                     follow_redirects=True).get_data(as_text=True)
    assert "Role Inspector granted to Ivy Inspector." in granted
    assert chain_verifies(app)
