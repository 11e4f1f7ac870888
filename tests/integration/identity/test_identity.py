"""Users, roles backed by training, the permission matrix, lock-out, aging, TOTP, tokens."""

from __future__ import annotations

from datetime import date, timedelta

import pyotp
import pytest
from sqlalchemy import select, update

from engine import audit
from engine.audit import AuditEvent
from engine.db import db, utcnow
from engine.errors import Conflict, InvalidInput, NotAuthenticated, PermissionDenied
from engine.identity import roles
from engine.identity import service as identity
from engine.identity.models import Notification, User
from tests.support.factories import PASSWORD

pytestmark = pytest.mark.usefixtures("ctx")

POLICY = identity.Policy(password_max_age_days=90, lockout_attempts=3)


@pytest.mark.parametrize(
    ("role", "action", "allowed"),
    [
        (roles.ADMINISTRATOR, "users.manage", True),
        (roles.AUDITOR, "users.manage", False),
        (roles.AUDITOR, "audit.view", True),
        (roles.AUDITOR, "ledger.receive", False),
        (roles.RECEIVING_CLERK, "ledger.receive", True),
        (roles.RECEIVING_CLERK, "ledger.release", False),
        (roles.QUALITY_MANAGER, "ledger.release", True),
        (roles.QUALITY_MANAGER, "recalls.close", True),
        (roles.INSPECTOR, "recalls.close", False),
        (roles.COMPLIANCE_OFFICER, "rules.activate", True),
        (roles.PROCESS_OWNER, "rules.activate", False),
        (roles.PROCESS_OWNER, "processes.deploy", True),
        (roles.API_CLIENT, "recalls.start", True),
        (roles.API_CLIENT, "audit.view", False),
        (roles.WAREHOUSE_OPERATOR, "no.such.action", False),
    ],
)
def test_permission_matrix(make_user, role: str, action: str, allowed: bool) -> None:
    user = make_user("u" + role.replace("_", ""), role)
    assert identity.can(user, action) is allowed
    if not allowed:
        with pytest.raises(PermissionDenied, match=action):
            identity.require(user, action)


def test_every_action_is_allowed_to_someone_but_the_auditor_only_reads() -> None:
    for action, allowed in roles.PERMISSIONS.items():
        assert allowed, action
        if roles.AUDITOR in allowed:
            assert action.endswith((".view", ".verify")), action


def test_a_role_needs_valid_training(make_user) -> None:
    admin = make_user("admin", roles.ADMINISTRATOR)
    bob = make_user("bob")
    with pytest.raises(InvalidInput, match="no valid training"):
        identity.grant_role(admin, bob, roles.INSPECTOR)
    identity.record_training(admin, bob, roles.INSPECTOR, date.today() - timedelta(days=400),
                             date.today() - timedelta(days=1), "expired course")
    with pytest.raises(InvalidInput, match="no valid training"):
        identity.grant_role(admin, bob, roles.INSPECTOR)
    identity.record_training(admin, bob, roles.INSPECTOR, date.today(), None, "course 2026")
    identity.grant_role(admin, bob, roles.INSPECTOR)
    assert identity.effective_roles(bob) == {roles.INSPECTOR}
    with pytest.raises(Conflict):
        identity.grant_role(admin, bob, roles.INSPECTOR)


def test_expired_training_suspends_the_role(make_user) -> None:
    carol = make_user("carol", roles.INSPECTOR)
    assert identity.can(carol, "processes.view")
    later = date.today() + timedelta(days=400)
    assert identity.effective_roles(carol, later) == set()
    assert identity.suspended_roles(carol, later) == {roles.INSPECTOR}


def test_deactivated_users_lose_every_role_and_cannot_log_in(make_user) -> None:
    admin = make_user("admin", roles.ADMINISTRATOR)
    dave = make_user("dave", roles.INSPECTOR)
    with pytest.raises(InvalidInput):
        identity.set_active(admin, dave, False, reason="")
    identity.set_active(admin, dave, False, reason="left the company")
    db.session.commit()
    assert identity.effective_roles(dave) == set()
    with pytest.raises(NotAuthenticated, match="deactivated"):
        identity.authenticate("dave", PASSWORD, POLICY)


def test_lock_out_after_failed_attempts_notifies_administrators(make_user) -> None:
    admin = make_user("admin", roles.ADMINISTRATOR)
    make_user("erin", roles.RECEIVING_CLERK)
    for _ in range(3):
        with pytest.raises(NotAuthenticated):
            identity.authenticate("erin", "wrong-password-1", POLICY)
        db.session.commit()
    with pytest.raises(NotAuthenticated, match="locked"):
        identity.authenticate("erin", PASSWORD, POLICY)
    db.session.commit()
    actions = db.session.scalars(select(AuditEvent.action).order_by(AuditEvent.seq)).all()
    assert actions.count("login.failed") == 3
    assert "user.lock" in actions
    note = db.session.scalar(select(Notification).where(Notification.user_id == admin.id))
    assert note is not None and "erin" in note.subject
    erin = identity.find_user("erin")
    identity.unlock(admin, erin, reason="called the user")
    db.session.commit()
    assert identity.authenticate("erin", PASSWORD, POLICY).username == "erin"


def test_password_policy_and_aging(make_user) -> None:
    frank = make_user("frank", roles.INSPECTOR)
    assert not identity.password_expired(frank, POLICY)
    assert identity.password_expired(frank, POLICY, utcnow() + timedelta(days=91))
    with pytest.raises(InvalidInput, match="policy"):
        identity.change_password(frank, PASSWORD, "short1", POLICY)
    with pytest.raises(InvalidInput, match="policy"):
        identity.change_password(frank, PASSWORD, "frank-and-1234567", POLICY)
    identity.change_password(frank, PASSWORD, "Another-good-one-7", POLICY)
    db.session.commit()
    assert identity.authenticate("frank", "Another-good-one-7", POLICY)


def test_totp_enrolment_and_recovery_codes(make_user) -> None:
    gina = make_user("gina", roles.QUALITY_MANAGER)
    secret = identity.start_totp_enrolment(gina)
    assert identity.totp_uri(gina).startswith("otpauth://totp/GxPFlow:gina")
    assert "<svg" in identity.qr_svg(identity.totp_uri(gina))
    with pytest.raises(InvalidInput):
        identity.confirm_totp_enrolment(gina, "000000")
    now = utcnow()
    codes = identity.confirm_totp_enrolment(gina, pyotp.TOTP(secret).at(now), now=now)
    assert gina.totp_enabled and len(codes) == 10
    later = now + timedelta(seconds=30)  # the enrolment code is spent: the next one logs in
    identity.verify_second_factor(gina, pyotp.TOTP(secret).at(later), POLICY, now=later)
    identity.verify_second_factor(gina, codes[0], POLICY)
    with pytest.raises(NotAuthenticated):
        identity.verify_second_factor(gina, codes[0], POLICY)  # a recovery code works once


def test_a_totp_code_is_accepted_once(make_user) -> None:
    hugo = make_user("hugo", roles.QUALITY_MANAGER)
    totp = pyotp.TOTP(identity.start_totp_enrolment(hugo))
    policy = identity.Policy()
    now = utcnow()
    identity.confirm_totp_enrolment(hugo, totp.at(now), now=now)
    with pytest.raises(NotAuthenticated, match="wrong or expired"):
        identity.verify_second_factor(hugo, totp.at(now), policy, now=now)  # enrolment's code
    later = now + timedelta(seconds=30)
    identity.verify_second_factor(hugo, totp.at(later), policy, now=later)
    for replayed in (later, now):  # the same code, and an older one still in the window
        with pytest.raises(NotAuthenticated, match="wrong or expired"):
            identity.verify_second_factor(hugo, totp.at(replayed), policy, now=later)
    assert hugo.failed_attempts == 3, "a replayed code counts as a wrong one"
    ahead = later + timedelta(seconds=30)  # the phone's clock runs a step ahead
    identity.verify_second_factor(hugo, totp.at(ahead), policy, now=later)
    with pytest.raises(NotAuthenticated):  # the current code is now older than the last one
        identity.verify_second_factor(hugo, totp.at(later), policy, now=later)
    db.session.commit()
    assert db.session.scalar(select(User.totp_last_step).where(User.id == hugo.id)) == (
        totp.timecode(ahead))
    failures = db.session.scalars(select(AuditEvent).where(
        AuditEvent.action == "login.failed")).all()
    assert [f.after_values["reason"] for f in failures] == ["wrong second factor"] * 4


def test_a_totp_code_another_log_in_took_meanwhile_is_refused(make_user) -> None:
    ines = make_user("ines", roles.QUALITY_MANAGER)
    totp = pyotp.TOTP(identity.start_totp_enrolment(ines))
    now = utcnow()
    identity.confirm_totp_enrolment(ines, totp.at(now), now=now)
    db.session.commit()
    later = now + timedelta(seconds=30)
    # A log-in racing this one accepted the same code after this one read the user.
    db.session.execute(update(User).where(User.id == ines.id)
                       .values(totp_last_step=totp.timecode(later))
                       .execution_options(synchronize_session=False))
    assert ines.totp_last_step == totp.timecode(now), "this log-in has not seen it"
    with pytest.raises(NotAuthenticated):
        identity.verify_second_factor(ines, totp.at(later), identity.Policy(), now=later)


def test_reset_password_by_an_administrator(make_user) -> None:
    admin = make_user("admin", roles.ADMINISTRATOR)
    jack = make_user("jack", roles.RECEIVING_CLERK)
    for _ in range(3):
        identity.register_failure(jack, POLICY, "wrong password")
    assert jack.locked_at is not None
    with pytest.raises(InvalidInput) as refused:
        identity.reset_password(admin, jack, "jack-short", " ")
    assert set(refused.value.fields) == {"password", "reason"}
    with pytest.raises(PermissionDenied, match="your own password") as own:
        identity.reset_password(admin, admin, "Temporary-pass-31", "forgot it")
    assert own.value.text("zh").startswith("您不能重置自己的密码")
    identity.reset_password(admin, jack, "Temporary-pass-31", "forgot it, called the desk")
    db.session.commit()
    assert jack.must_change_password and jack.locked_at is None and jack.failed_attempts == 0
    assert identity.authenticate("jack", "Temporary-pass-31", POLICY) == jack
    reset = db.session.scalar(select(AuditEvent).where(
        AuditEvent.action == "user.password_reset"))
    assert reset.reason == "forgot it, called the desk"
    assert reset.before_values["locked"] is True and reset.after_values["locked"] is False
    assert audit.verify().ok


def test_reset_second_factor_by_an_administrator(make_user) -> None:
    admin = make_user("admin", roles.ADMINISTRATOR)
    kim = make_user("kim", roles.QUALITY_MANAGER)
    clerk = make_user("clerk", roles.RECEIVING_CLERK)
    totp = pyotp.TOTP(identity.start_totp_enrolment(kim))
    now = utcnow()
    codes = identity.confirm_totp_enrolment(kim, totp.at(now), now=now)
    with pytest.raises(PermissionDenied, match=r"users\.manage"):
        identity.reset_second_factor(clerk, kim, "lost phone")
    with pytest.raises(PermissionDenied, match="your own two-factor"):
        identity.reset_second_factor(admin, admin, "lost phone")
    with pytest.raises(InvalidInput, match="reason"):
        identity.reset_second_factor(admin, kim, "")
    assert kim.totp_enabled
    identity.reset_second_factor(admin, kim, "lost phone")
    db.session.commit()
    assert (kim.totp_secret, kim.totp_enabled, kim.totp_last_step, kim.recovery_codes) == (
        None, False, None, "[]")
    with pytest.raises(NotAuthenticated):
        identity.verify_second_factor(kim, codes[0], POLICY)  # the recovery codes went too
    with pytest.raises(Conflict, match="no two-factor log-in"):
        identity.reset_second_factor(admin, kim, "again")
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "user.totp_reset"))
    assert event.reason == "lost phone" and event.before_values == {
        "totp_enabled": True, "recovery_codes": 10}
    assert audit.verify().ok


def test_mfa_requirement_per_role(make_user) -> None:
    admin = make_user("admin", roles.ADMINISTRATOR)
    qm = make_user("hank", roles.QUALITY_MANAGER)
    assert not identity.mfa_required(qm)
    identity.set_mfa_required(admin, roles.QUALITY_MANAGER, True)
    assert identity.mfa_required(qm)
    assert not identity.mfa_required(admin)


def test_api_tokens_are_hashed_expire_and_revoke(make_user) -> None:
    admin = make_user("admin", roles.ADMINISTRATOR)
    client = make_user("erp", roles.API_CLIENT)
    plain = identity.create_token(admin, client, "ERP recalls", days=30)
    db.session.commit()
    assert plain.startswith("gxp_")
    stored = db.session.scalars(select(audit.AuditEvent.after)).all()
    assert not any(plain in row for row in stored)
    assert identity.authenticate_token(plain).username == "erp"
    token = client_token = db.session.scalar(select(identity.ApiToken))
    assert token is not None and token.token_hash != plain
    identity.revoke_token(admin, client_token, reason="rotated")
    with pytest.raises(NotAuthenticated):
        identity.authenticate_token(plain)
    with pytest.raises(NotAuthenticated):
        identity.authenticate_token("gxp_made-up")
