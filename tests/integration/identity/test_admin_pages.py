"""User administration through the pages, as an administrator does it: create a user, record
training, grant and revoke roles, deactivate, unlock, set the two-factor policy, manage API
tokens; and who may open which page."""

from __future__ import annotations

import re
from datetime import date, timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select, text

from engine import signatures
from engine.audit import AuditEvent
from engine.db import db
from engine.identity import roles
from engine.identity import service as identity
from engine.identity.models import ApiToken, RolePolicy, Training, User
from tests.support.factories import PASSWORD
from tests.support.web import csrf_token, login, submit


def user_id(app: Flask, username: str) -> int:
    with app.app_context():
        found = identity.find_user(username)
        assert found is not None
        return found.id


def events(app: Flask, action: str) -> list[AuditEvent]:
    with app.app_context():
        return list(db.session.scalars(select(AuditEvent).where(AuditEvent.action == action)))


@pytest.fixture
def admin(client: FlaskClient, make_user: Any) -> FlaskClient:
    make_user("root", roles.ADMINISTRATOR, full_name="Rosa Admin")
    login(client, "root")
    return client


@pytest.mark.parametrize("url", ["/admin/", "/admin/users/new", "/admin/roles", "/admin/tokens"])
def test_a_clerk_may_not_open_the_admin_pages(client: FlaskClient, make_user: Any,
                                              url: str) -> None:
    make_user("clara", roles.RECEIVING_CLERK)
    login(client, "clara")
    response = client.get(url)
    assert response.status_code == 403
    assert "users." in response.get_data(as_text=True) or "tokens." in response.get_data(
        as_text=True)


def test_an_auditor_reads_users_but_changes_nothing(app: Flask, client: FlaskClient,
                                                    make_user: Any) -> None:
    make_user("ada", roles.AUDITOR)
    make_user("carl", roles.RECEIVING_CLERK, full_name="Carl Clerk")
    login(client, "ada")
    carl = user_id(app, "carl")
    listing = client.get("/admin/").get_data(as_text=True)
    assert "Carl Clerk" in listing
    page = client.get(f"/admin/users/{carl}").get_data(as_text=True)
    assert "Carl Clerk" in page
    assert "Deactivate…" not in page and "Grant role" not in page
    token = csrf_token(client, f"/admin/users/{carl}")
    for url, data in ((f"/admin/users/{carl}/deactivate", {"reason": "x"}),
                      (f"/admin/users/{carl}/roles", {"role": roles.INSPECTOR}),
                      (f"/admin/users/{carl}/training", {"role": roles.INSPECTOR}),
                      ("/admin/roles", {f"mfa_{roles.INSPECTOR}": "on"})):
        assert client.post(url, data={"csrf_token": token, **data}).status_code == 403, url
    assert client.get("/admin/users/new").status_code == 403
    assert client.get("/admin/tokens").status_code == 403
    with app.app_context():
        assert db.session.get(User, carl).active
        assert db.session.scalar(select(RolePolicy)) is None


def test_create_a_user_then_find_it_by_search_and_sort(app: Flask, admin: FlaskClient) -> None:
    response = submit(admin, "/admin/users/new", {
        "username": "wang.fang", "full_name": "Wang Fang 王芳", "email": "wf@example.com",
        "password": "Temporary-pass-7"})
    assert response.status_code == 302
    new_id = user_id(app, "wang.fang")
    assert response.headers["Location"] == f"/admin/users/{new_id}"
    page = admin.get(response.headers["Location"]).get_data(as_text=True)
    assert "Wang Fang 王芳" in page and "Must change password" in page
    assert events(app, "user.create")[-1].actor_name == "Rosa Admin"

    found = admin.get("/admin/?q=王芳").get_data(as_text=True)
    assert "wang.fang" in found and ">root</a>" not in found
    ordered = admin.get("/admin/?sort=username&dir=desc").get_data(as_text=True)
    assert ordered.index("wang.fang") < ordered.index(">root</a>")


def test_create_user_shows_what_is_wrong(app: Flask, admin: FlaskClient) -> None:
    response = submit(admin, "/admin/users/new", {
        "username": "root", "full_name": "Someone", "password": "Temporary-pass-7"})
    assert response.status_code == 200
    assert "This user name is taken." in response.get_data(as_text=True)
    weak = submit(admin, "/admin/users/new", {
        "username": "weak", "full_name": "Weak", "password": "short"})
    assert "The password needs at least 10 characters" in weak.get_data(as_text=True)
    assert user_id(app, "root") and identity_missing(app, "weak")


def identity_missing(app: Flask, username: str) -> bool:
    with app.app_context():
        return identity.find_user(username) is None


def test_a_role_is_refused_without_training_then_granted_once_trained(
    app: Flask, admin: FlaskClient, make_user: Any
) -> None:
    make_user("ivy", full_name="Ivy Inspector")
    ivy = user_id(app, "ivy")
    url = f"/admin/users/{ivy}"
    refused = submit(admin, f"{url}/roles", {"role": roles.INSPECTOR}, form_url=url,
                     follow_redirects=True)
    page = refused.get_data(as_text=True)
    assert "Ivy Inspector has no valid training record for the role Inspector." in page
    assert "Record the training first, then grant the role." in page
    assert not [e for e in events(app, "role.grant") if e.entity_id == str(ivy)]

    today = date.today()
    submit(admin, f"{url}/training", {
        "role": roles.INSPECTOR, "trained_on": (today - timedelta(days=3)).isoformat(),
        "expires_on": (today + timedelta(days=365)).isoformat(),
        "evidence": "GSP receiving inspection course, certificate 2026-114"}, form_url=url)
    granted = submit(admin, f"{url}/roles", {"role": roles.INSPECTOR}, form_url=url,
                     follow_redirects=True).get_data(as_text=True)
    assert "Role Inspector granted to Ivy Inspector." in granted
    assert "In force" in granted and "certificate 2026-114" in granted
    with app.app_context():
        assert identity.effective_roles(db.session.get(User, ivy)) == {roles.INSPECTOR}
    assert events(app, "role.grant")[-1].actor_name == "Rosa Admin"


def test_training_records_list_flags_expired_ones_and_suspended_roles(
    app: Flask, admin: FlaskClient, make_user: Any
) -> None:
    make_user("otto", roles.WAREHOUSE_OPERATOR)
    otto = user_id(app, "otto")
    with app.app_context():
        record = db.session.scalar(select(Training).where(Training.user_id == otto))
        record.expires_on = date.today() - timedelta(days=1)
        db.session.commit()
    page = admin.get(f"/admin/users/{otto}").get_data(as_text=True)
    assert 'class="expired"' in page and "Expired" in page
    assert "Suspended: no valid training" in page
    assert "⚠" in admin.get("/admin/?q=otto").get_data(as_text=True)
    incomplete = submit(admin, f"/admin/users/{otto}/training", {
        "role": roles.WAREHOUSE_OPERATOR, "trained_on": date.today().isoformat(),
        "evidence": " "}, form_url=f"/admin/users/{otto}", follow_redirects=True)
    assert "The training record is incomplete." in incomplete.get_data(as_text=True)


def test_deactivate_asks_for_confirmation_and_a_reason_and_never_deletes(
    app: Flask, admin: FlaskClient, make_user: Any
) -> None:
    make_user("dora", roles.INSPECTOR, full_name="Dora Left")
    dora = user_id(app, "dora")
    confirm = admin.get(f"/admin/users/{dora}/deactivate").get_data(as_text=True)
    assert "Deactivate Dora Left?" in confirm and "never deleted" in confirm
    no_reason = submit(admin, f"/admin/users/{dora}/deactivate", {"reason": ""})
    assert no_reason.status_code == 200
    with app.app_context():
        assert db.session.get(User, dora).active
    done = submit(admin, f"/admin/users/{dora}/deactivate", {"reason": "Left the company"},
                  follow_redirects=True).get_data(as_text=True)
    assert "Dora Left is deactivated" in done and "Reactivate" in done
    assert events(app, "user.deactivate")[-1].reason == "Left the company"
    other = app.test_client()
    refused = submit(other, "/auth/login", {"username": "dora", "password": PASSWORD})
    assert "deactivated" in refused.get_data(as_text=True)

    back = submit(admin, f"/admin/users/{dora}/reactivate", {"reason": "Rehired"},
                  form_url=f"/admin/users/{dora}", follow_redirects=True)
    assert "Dora Left is active again." in back.get_data(as_text=True)
    with app.app_context():
        assert db.session.get(User, dora).active


def test_an_administrator_cannot_deactivate_themself(app: Flask, admin: FlaskClient,
                                                    make_user: Any) -> None:
    # Not the last administrator (that refusal is in test_segregation_of_duties.py).
    make_user("cora", roles.ADMINISTRATOR)
    root = user_id(app, "root")
    page = submit(admin, f"/admin/users/{root}/deactivate", {"reason": "oops"},
                  follow_redirects=True).get_data(as_text=True)
    assert "You cannot deactivate yourself." in page


def test_unlock_a_locked_account(app: Flask, admin: FlaskClient, make_user: Any) -> None:
    make_user("lou", roles.RECEIVING_CLERK, full_name="Lou Locked")
    lou = user_id(app, "lou")
    with app.app_context():
        for _ in range(app.extensions["gxpflow.settings"].lockout_attempts):
            identity.register_failure(db.session.get(User, lou), identity.Policy(), "test")
        db.session.commit()
    url = f"/admin/users/{lou}"
    assert "Locked" in admin.get(url).get_data(as_text=True)
    done = submit(admin, f"{url}/unlock", {"reason": "Phoned the user"}, form_url=url,
                  follow_redirects=True).get_data(as_text=True)
    assert "Lou Locked is unlocked." in done
    assert events(app, "user.unlock")[-1].reason == "Phoned the user"
    login(app.test_client(), "lou")


def test_revoke_a_role_with_a_reason(app: Flask, admin: FlaskClient, make_user: Any) -> None:
    make_user("rex", roles.INSPECTOR, roles.WAREHOUSE_OPERATOR, full_name="Rex")
    rex = user_id(app, "rex")
    url = f"/admin/users/{rex}"
    page = submit(admin, f"{url}/roles/revoke", {"role": roles.INSPECTOR,
                                                 "reason": "Moved to the warehouse"},
                  form_url=url, follow_redirects=True).get_data(as_text=True)
    assert "Role Inspector revoked from Rex." in page
    with app.app_context():
        assert identity.effective_roles(db.session.get(User, rex)) == {
            roles.WAREHOUSE_OPERATOR}
    assert events(app, "role.revoke")[-1].before_values == {"role": roles.INSPECTOR}


def test_role_policy_marks_roles_that_need_two_factor(app: Flask, admin: FlaskClient) -> None:
    page = admin.get("/admin/roles").get_data(as_text=True)
    assert "Quality manager" in page and "ledger.release" in page
    submit(admin, "/admin/roles", {f"mfa_{roles.QUALITY_MANAGER}": "on"})
    with app.app_context():
        assert db.session.get(RolePolicy, roles.QUALITY_MANAGER).mfa_required
    assert 'name="mfa_quality_manager" aria-label' in admin.get("/admin/roles").get_data(
        as_text=True)
    assert re.search(r'name="mfa_quality_manager"[^>]*checked',
                     admin.get("/admin/roles").get_data(as_text=True))
    assert [e.entity_id for e in events(app, "role.policy")] == [roles.QUALITY_MANAGER]
    submit(admin, "/admin/roles", {})
    with app.app_context():
        assert not db.session.get(RolePolicy, roles.QUALITY_MANAGER).mfa_required


def test_api_token_shown_once_listed_by_prefix_and_revoked_with_confirmation(
    app: Flask, admin: FlaskClient, make_user: Any
) -> None:
    make_user("erp", roles.API_CLIENT, full_name="ERP link")
    erp = user_id(app, "erp")
    created = submit(admin, "/admin/tokens", {"user_id": erp, "name": "ERP sync",
                                              "days": 30})
    assert created.headers["Cache-Control"] == "no-store"
    plain = re.search(r'id="new-token">(gxp_[^<]+)<', created.get_data(as_text=True)).group(1)
    listing = admin.get("/admin/tokens").get_data(as_text=True)
    assert plain not in listing and plain[:10] + "…" in listing and "ERP sync" in listing

    api = app.test_client()
    me = api.get("/api/v1/me", headers={"Authorization": f"Bearer {plain}"})
    assert me.get_json()["username"] == "erp"
    assert "never" not in admin.get("/admin/tokens").get_data(as_text=True)

    with app.app_context():
        token_id = db.session.scalar(select(ApiToken.id))
    url = f"/admin/tokens/{token_id}/revoke"
    assert "cannot be restored" in admin.get(url).get_data(as_text=True)
    unconfirmed = submit(admin, url, {"reason": "Rotated"})
    assert unconfirmed.status_code == 200
    assert api.get("/api/v1/me", headers={"Authorization": f"Bearer {plain}"}).status_code == 200
    done = submit(admin, url, {"reason": "Rotated", "confirm": "y"}, follow_redirects=True)
    assert "revoked: it no longer opens the API" in done.get_data(as_text=True)
    assert api.get("/api/v1/me", headers={"Authorization": f"Bearer {plain}"}).status_code == 401
    assert events(app, "token.revoke")[-1].reason == "Rotated"


def test_tokens_only_for_api_clients(app: Flask, admin: FlaskClient, make_user: Any) -> None:
    make_user("ivan", roles.INSPECTOR)
    page = admin.get("/admin/tokens").get_data(as_text=True)
    assert "No user holds the API client role" in page
    refused = submit(admin, "/admin/tokens", {"user_id": user_id(app, "ivan"), "name": "x",
                                              "days": 30})
    assert "Choose an API client" in refused.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(select(ApiToken)) is None


def test_signed_training_shows_its_manifestation_and_broken_when_changed(
    app: Flask, admin: FlaskClient, make_user: Any, stack: Any
) -> None:
    make_user("quinn", roles.QUALITY_MANAGER, full_name="Quinn QM 秦")
    make_user("tina", roles.INSPECTOR)
    tina = user_id(app, "tina")
    with app.app_context():
        record = db.session.scalar(select(Training).where(Training.user_id == tina))
        signatures.sign(identity.find_user("quinn"), PASSWORD, "verified", "training_record",
                        record.id, identity.training_content(record), username="quinn")
        db.session.commit()
        record_id = record.id
    with admin.session_transaction() as session:
        session["timezone"] = "Asia/Shanghai"
    page = admin.get(f"/admin/users/{tina}").get_data(as_text=True)
    manifest = re.search(r'<ul class="signatures">.*?</ul>', page, re.S).group(0)
    assert "Quinn QM 秦" in manifest and "Verified" in manifest and "CST" in manifest
    assert "BROKEN" not in manifest

    with app.app_context():
        db.session.execute(text("UPDATE training_record SET evidence = 'forged' WHERE id = :i"),
                           {"i": record_id})
        db.session.commit()
    page = admin.get(f"/admin/users/{tina}").get_data(as_text=True)
    assert "BROKEN" in page and "the record changed after it was signed" in page


def test_admin_pages_in_chinese(app: Flask, admin: FlaskClient, make_user: Any) -> None:
    make_user("ivy", full_name="Ivy")
    admin.get("/lang/zh")
    listing = admin.get("/admin/").get_data(as_text=True)
    assert "新建用户" in listing and "签名姓名" in listing
    ivy = user_id(app, "ivy")
    refused = submit(admin, f"/admin/users/{ivy}/roles", {"role": roles.INSPECTOR},
                     form_url=f"/admin/users/{ivy}", follow_redirects=True)
    assert "请先记录培训，再授予该角色。" in refused.get_data(as_text=True)
    assert "培训记录" in refused.get_data(as_text=True)


def test_quality_managers_record_training_but_do_not_grant(
    app: Flask, client: FlaskClient, make_user: Any
) -> None:
    make_user("quinn", roles.QUALITY_MANAGER)
    make_user("ivy", full_name="Ivy")
    login(client, "quinn")
    ivy = user_id(app, "ivy")
    url = f"/admin/users/{ivy}"
    page = client.get(url).get_data(as_text=True)
    assert "Record training" in page and "Grant role" not in page
    done = submit(client, f"{url}/training", {
        "role": roles.INSPECTOR, "trained_on": date.today().isoformat(),
        "evidence": "On-the-job training, form QF-07"}, follow_redirects=True, form_url=url)
    assert "Training for Inspector recorded." in done.get_data(as_text=True)
    assert submit(client, f"{url}/roles", {"role": roles.INSPECTOR},
                  form_url=url).status_code == 403
