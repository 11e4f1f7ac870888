"""User administration through the pages, as an administrator does it: create a user, record
training, grant and revoke roles, deactivate, unlock, set the two-factor policy, manage API
tokens; and who may open which page."""

from __future__ import annotations

import re
from datetime import date, timedelta
from typing import Any

import pyotp
import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select, text

from engine import audit, signatures
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
    assert "Reset password" not in page and "Reset two-factor" not in page
    for url, data in ((f"/admin/users/{carl}/deactivate", {"reason": "x"}),
                      (f"/admin/users/{carl}/password", {"password": "Temporary-pass-7",
                                                          "reason": "x"}),
                      (f"/admin/users/{carl}/two-factor", {"reason": "x"}),
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


def test_reset_a_forgotten_password_then_the_user_must_change_it(
    app: Flask, admin: FlaskClient, make_user: Any
) -> None:
    make_user("lou", roles.RECEIVING_CLERK, full_name="Lou Forgot")
    lou = user_id(app, "lou")
    for _ in range(app.extensions["gxpflow.settings"].lockout_attempts):
        submit(app.test_client(), "/auth/login", {"username": "lou", "password": "guess-guess-1"})
    url = f"/admin/users/{lou}"
    page = admin.get(url).get_data(as_text=True)
    assert "Locked" in page and "Reset password" in page
    assert f'action="{url}/password"' in page and "return confirm(" in page
    done = submit(admin, f"{url}/password", {"password": "Temporary-pass-7",
                                             "reason": "Forgot it, called the service desk"},
                  form_url=url, follow_redirects=True).get_data(as_text=True)
    assert "The password of Lou Forgot was reset." in done
    assert "Must change password" in done and "Locked ·" not in done
    reset = events(app, "user.password_reset")[-1]
    assert reset.actor_name == "Rosa Admin" and reset.entity_id == str(lou)
    assert reset.reason == "Forgot it, called the service desk"
    assert reset.before_values["locked"] and not reset.after_values["locked"]
    assert not events(app, "user.unlock"), "one event: the reset lifts the lock-out"
    assert "Temporary-pass-7" not in str([(e.before, e.after) for e in events(
        app, "user.password_reset")])

    old = app.test_client()
    refused = submit(old, "/auth/login", {"username": "lou", "password": PASSWORD})
    assert "The user name or password is wrong." in refused.get_data(as_text=True)
    lou_client = app.test_client()
    login(lou_client, "lou", "Temporary-pass-7")
    assert lou_client.get("/").headers["Location"] == "/auth/password"
    changed = submit(lou_client, "/auth/password", {"current_password": "Temporary-pass-7",
                                                    "new_password": "Brand-new-pass-9",
                                                    "confirm": "Brand-new-pass-9"})
    assert changed.status_code == 302
    assert lou_client.get("/").status_code == 200
    with app.app_context():
        assert audit.verify().ok


def test_reset_password_names_each_field_that_is_wrong(
    app: Flask, admin: FlaskClient, make_user: Any
) -> None:
    make_user("mo", roles.INSPECTOR)
    mo = user_id(app, "mo")
    url = f"/admin/users/{mo}"
    both = submit(admin, f"{url}/password", {"password": "short", "reason": " "},
                  form_url=url, follow_redirects=True).get_data(as_text=True)
    assert "The password was not reset." in both
    assert "Temporary password: The password needs at least 10 characters" in both
    assert "Reason: Say why the password is reset." in both
    no_reason = submit(admin, f"{url}/password", {"password": "Temporary-pass-7"},
                       form_url=url, follow_redirects=True).get_data(as_text=True)
    assert "Reason: Say why the password is reset." in no_reason
    named = submit(admin, f"{url}/password", {"password": "mo-Temporary-7", "reason": "x"},
                   form_url=url, follow_redirects=True).get_data(as_text=True)
    assert "not containing the user name" in named
    assert not events(app, "user.password_reset")
    login(app.test_client(), "mo")  # the old password still works

    admin.get("/lang/zh")
    zh = submit(admin, f"{url}/password", {"password": "short", "reason": ""},
                form_url=url, follow_redirects=True).get_data(as_text=True)
    assert "密码未重置。" in zh and "临时密码：" in zh and "原因：请说明重置密码的原因。" in zh


def test_reset_two_factor_after_a_lost_phone(app: Flask, admin: FlaskClient,
                                            make_user: Any) -> None:
    make_user("gina", roles.INSPECTOR, full_name="Gina Lost")
    gina = user_id(app, "gina")
    url = f"/admin/users/{gina}"
    assert "Reset two-factor" not in admin.get(url).get_data(as_text=True)
    with app.app_context():
        found = db.session.get(User, gina)
        identity.confirm_totp_enrolment(
            found, pyotp.TOTP(identity.start_totp_enrolment(found)).now())
        db.session.commit()
    first = submit(app.test_client(), "/auth/login", {"username": "gina", "password": PASSWORD})
    assert first.headers["Location"].startswith("/auth/second-factor")

    page = admin.get(url).get_data(as_text=True)
    assert "Two-factor log-in is on" in page and "Reset two-factor" in page
    no_reason = submit(admin, f"{url}/two-factor", {"reason": ""}, form_url=url,
                       follow_redirects=True).get_data(as_text=True)
    assert "Two-factor log-in was not reset. Reason: This field is required." in no_reason
    done = submit(admin, f"{url}/two-factor", {"reason": "Phone lost on the train"},
                  form_url=url, follow_redirects=True).get_data(as_text=True)
    assert "Two-factor log-in of Gina Lost is reset" in done
    assert "Two-factor log-in is on" not in done and "Reset two-factor" not in done
    with app.app_context():
        found = db.session.get(User, gina)
        assert (found.totp_secret, found.totp_enabled, found.totp_last_step,
                found.recovery_codes) == (None, False, None, "[]")
    assert events(app, "user.totp_reset")[-1].reason == "Phone lost on the train"

    again = login(app.test_client(), "gina")
    assert again.headers["Location"] == "/", "no code asked: her role does not demand one"
    twice = submit(admin, f"{url}/two-factor", {"reason": "again"}, form_url=url,
                   follow_redirects=True).get_data(as_text=True)
    assert "gina has no two-factor log-in to reset." in twice
    with app.app_context():
        assert audit.verify().ok


def test_reset_two_factor_sends_the_user_to_enrol_again_when_their_role_demands_it(
    app: Flask, admin: FlaskClient, make_user: Any
) -> None:
    make_user("quinn", roles.QUALITY_MANAGER)
    quinn = user_id(app, "quinn")
    submit(admin, "/admin/roles", {f"mfa_{roles.QUALITY_MANAGER}": "on"})
    with app.app_context():
        found = db.session.get(User, quinn)
        old_secret = identity.start_totp_enrolment(found)
        identity.confirm_totp_enrolment(found, pyotp.TOTP(old_secret).now())
        db.session.commit()
    url = f"/admin/users/{quinn}"
    submit(admin, f"{url}/two-factor", {"reason": "New phone"}, form_url=url)

    client = app.test_client()
    assert login(client, "quinn").headers["Location"] == "/", "no code asked"
    assert client.get("/").headers["Location"] == "/auth/two-factor"
    enrol = client.get("/auth/two-factor").get_data(as_text=True)
    new_secret = re.search(r'id="totp-secret">([A-Z2-7]+)<', enrol).group(1)
    assert new_secret != old_secret
    assert client.get("/ledger/").headers["Location"] == "/auth/two-factor"


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
