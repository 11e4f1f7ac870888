"""Logging in and out through the pages, as staff do: lock-out, aging, 2FA, idle timeout."""

from __future__ import annotations

import re
import time
from datetime import timedelta
from typing import Any

import pyotp
from flask import Flask
from flask.testing import FlaskClient

from engine import audit
from engine.db import db, utcnow
from engine.identity import roles
from engine.identity import service as identity
from tests.support.factories import PASSWORD
from tests.support.web import csrf_token, login, submit


def test_every_page_needs_a_log_in(client: FlaskClient) -> None:
    response = client.get("/")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/auth/login")


def test_login_page_refuses_a_post_without_csrf(client: FlaskClient, make_user: Any) -> None:
    make_user("mia", roles.INSPECTOR)
    response = client.post("/auth/login", data={"username": "mia", "password": PASSWORD})
    assert response.status_code == 400
    assert "reload the page" in response.get_data(as_text=True)
    assert client.get("/").status_code == 302


def test_log_in_see_your_name_and_log_out(client: FlaskClient, make_user: Any) -> None:
    make_user("nina", roles.INSPECTOR, full_name="Nina Zhou 周")
    login(client, "nina")
    home = client.get("/").get_data(as_text=True)
    assert "Nina Zhou 周" in home
    token = csrf_token(client, "/")
    assert client.post("/auth/logout", data={"csrf_token": token}).status_code == 302
    assert client.get("/").status_code == 302


def test_wrong_password_says_so_and_five_failures_lock(
    app: Flask, client: FlaskClient, make_user: Any
) -> None:
    make_user("oscar", roles.RECEIVING_CLERK)
    for _ in range(app.extensions["gxpflow.settings"].lockout_attempts):
        page = submit(client, "/auth/login", {"username": "oscar", "password": "nope-nope-1"})
        assert page.status_code == 401
        assert "The user name or password is wrong." in page.get_data(as_text=True)
    page = submit(client, "/auth/login", {"username": "oscar", "password": PASSWORD})
    assert "locked" in page.get_data(as_text=True)


def test_an_expired_password_must_be_changed_first(
    app: Flask, client: FlaskClient, make_user: Any
) -> None:
    user = make_user("paul", roles.INSPECTOR)
    with app.app_context():
        fresh = db.session.get(type(user), user.id)
        fresh.password_changed_at = utcnow() - timedelta(days=200)
        db.session.commit()
    login(client, "paul")
    response = client.get("/")
    assert response.headers["Location"] == "/auth/password"
    response = submit(client, "/auth/password", {"current_password": PASSWORD,
                                                 "new_password": "Brand-new-pass-9",
                                                 "confirm": "Brand-new-pass-9"})
    assert response.status_code == 302
    assert client.get("/").status_code == 200


def test_role_requiring_two_factor_forces_enrolment_then_asks_for_codes(
    app: Flask, client: FlaskClient, make_user: Any
) -> None:
    admin = make_user("root", roles.ADMINISTRATOR)
    make_user("quinn", roles.QUALITY_MANAGER)
    with app.app_context():
        identity.set_mfa_required(db.session.get(type(admin), admin.id),
                                  roles.QUALITY_MANAGER, True)
        db.session.commit()
    login(client, "quinn")
    assert client.get("/").headers["Location"] == "/auth/two-factor"
    enrol = client.get("/auth/two-factor").get_data(as_text=True)
    assert "<svg" in enrol
    secret = re.search(r'id="totp-secret">([A-Z2-7]+)<', enrol).group(1)
    assert client.get("/auth/two-factor").get_data(as_text=True).count(secret) == 1, "kept"
    done = submit(client, "/auth/two-factor", {"code": pyotp.TOTP(secret).now()})
    assert "Keep these recovery codes" in done.get_data(as_text=True)
    assert client.get("/").status_code == 200

    other = app.test_client()
    first = submit(other, "/auth/login", {"username": "quinn", "password": PASSWORD})
    assert first.headers["Location"].startswith("/auth/second-factor")
    bad = submit(other, "/auth/second-factor", {"code": "123456"})
    assert "wrong or expired" in bad.get_data(as_text=True)
    # The enrolment's code is spent: the phone's next one logs in.
    good = submit(other, "/auth/second-factor",
                  {"code": pyotp.TOTP(secret).at(time.time() + 30)})
    assert good.status_code == 302
    assert other.get("/").status_code == 200


def enrolled(app: Flask, user: Any) -> pyotp.TOTP:
    """Two-factor log-in set up for `user`, confirmed with the previous step's code (so the
    phone's current code is still unused); the user's authenticator."""
    with app.app_context():
        found = db.session.get(type(user), user.id)
        totp = pyotp.TOTP(identity.start_totp_enrolment(found))
        identity.confirm_totp_enrolment(found, totp.at(time.time() - 30))
        db.session.commit()
    return totp


def test_a_two_factor_code_logs_in_only_once(
    app: Flask, client: FlaskClient, make_user: Any
) -> None:
    vera = make_user("vera", roles.QUALITY_MANAGER)
    totp = enrolled(app, vera)
    code = totp.now()
    submit(client, "/auth/login", {"username": "vera", "password": PASSWORD})
    assert submit(client, "/auth/second-factor", {"code": code}).status_code == 302
    assert client.get("/").status_code == 200

    # Someone who saw the password and the code over her shoulder tries them at once.
    other = app.test_client()
    submit(other, "/auth/login", {"username": "vera", "password": PASSWORD})
    replayed = submit(other, "/auth/second-factor", {"code": code})
    assert replayed.status_code == 200
    assert "The two-factor code is wrong or expired." in replayed.get_data(as_text=True)
    assert other.get("/").headers["Location"].startswith("/auth/login")
    with app.app_context():
        assert db.session.get(type(vera), vera.id).failed_attempts == 1

    fresh = submit(other, "/auth/second-factor", {"code": totp.at(time.time() + 30)})
    assert fresh.status_code == 302, "the next step's code is new"
    assert other.get("/").status_code == 200


def test_setting_two_factor_up_again_needs_the_password(
    app: Flask, client: FlaskClient, make_user: Any
) -> None:
    wen = make_user("wen", roles.INSPECTOR)
    totp = enrolled(app, wen)
    submit(client, "/auth/login", {"username": "wen", "password": PASSWORD})
    submit(client, "/auth/second-factor", {"code": totp.now()})
    page = client.get("/auth/two-factor").get_data(as_text=True)
    assert "Two-factor log-in is on" in page and 'name="password"' in page
    form = {"restart": "1", "code": "restart"}
    wrong = submit(client, "/auth/two-factor", {**form, "password": "not-hers-123"})
    assert "The password is wrong: two-factor log-in stays as it was." in \
        wrong.get_data(as_text=True)
    with app.app_context():
        kept = db.session.get(type(wen), wen.id)
        assert kept.totp_enabled and kept.failed_attempts == 1
    again = submit(client, "/auth/two-factor", {**form, "password": PASSWORD})
    assert 'id="totp-secret"' in again.get_data(as_text=True)  # a new secret to scan
    with app.app_context():
        moved = db.session.get(type(wen), wen.id)
        assert not moved.totp_enabled and moved.recovery_codes == "[]"
        assert [e.action for e in audit.history("user", wen.id)][-1] == "user.totp_restart"
        assert audit.verify().ok


def test_idle_sessions_must_log_in_again(app: Flask, client: FlaskClient, make_user: Any) -> None:
    make_user("rita", roles.INSPECTOR)
    login(client, "rita")
    with client.session_transaction() as session:
        session["seen"] = (utcnow() - timedelta(hours=2)).isoformat()
    assert client.get("/").headers["Location"].startswith("/auth/login")


def test_api_needs_a_valid_bearer_token(app: Flask, client: FlaskClient, make_user: Any) -> None:
    admin = make_user("boss", roles.ADMINISTRATOR)
    erp = make_user("erp", roles.API_CLIENT)
    with app.app_context():
        plain = identity.create_token(db.session.get(type(admin), admin.id),
                                      db.session.get(type(erp), erp.id), "test")
        db.session.commit()
    anonymous = client.get("/api/v1/anything")
    assert anonymous.status_code == 401
    assert "Bearer" in anonymous.get_json()["error"]["message"]
    assert client.get("/api/v1/anything",
                      headers={"Authorization": "Bearer gxp_wrong"}).status_code == 401
    known = client.get("/api/v1/anything", headers={"Authorization": f"Bearer {plain}"})
    assert known.status_code == 404


def test_administrators_see_lock_out_notifications(
    app: Flask, client: FlaskClient, make_user: Any
) -> None:
    make_user("sam", roles.ADMINISTRATOR)
    make_user("tom", roles.RECEIVING_CLERK)
    for _ in range(app.extensions["gxpflow.settings"].lockout_attempts):
        submit(client, "/auth/login", {"username": "tom", "password": "nope-nope-1"})
    login(client, "sam")
    home = client.get("/").get_data(as_text=True)
    assert '<span class="badge">1</span>' in home
    page = client.get("/notifications").get_data(as_text=True)
    assert "Account tom locked" in page
    client.get("/lang/zh")  # the same notification, read in Chinese
    page = client.get("/notifications").get_data(as_text=True)
    assert "账号 tom 已锁定" in page and "连续 5 次登录失败" in page
    assert "Account tom locked" not in page
    client.get("/lang/en")
    submit(client, "/notifications/read", {}, form_url="/notifications")
    assert '<span class="badge">' not in client.get("/").get_data(as_text=True)
