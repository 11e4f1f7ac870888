"""Identity services: users, roles backed by training, authentication with lock-out, two-factor
log-in, API tokens and in-app notifications. Services flush; the caller commits."""

from __future__ import annotations

import functools
import hashlib
import hmac
import json
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from io import BytesIO
from typing import Any
from zoneinfo import available_timezones

import pyotp
import qrcode
import qrcode.image.svg
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import and_, bindparam, event, exists, func, inspect, or_, select, update
from sqlalchemy.orm import ORMExecuteState, Session, lazyload
from sqlalchemy.orm.attributes import set_committed_value

from engine import audit
from engine.config import LOCALES
from engine.db import db, ends_work, utcnow
from engine.errors import (
    Bilingual,
    Conflict,
    InvalidInput,
    NotAuthenticated,
    NotFound,
    PermissionDenied,
)
from engine.identity import proofs
from engine.identity.models import (
    ApiToken,
    Notification,
    RolePolicy,
    Training,
    User,
    UserRole,
)
from engine.identity.roles import ADMINISTRATOR, API_CLIENT, ROLES, allowed_roles

#: Argon2id with OWASP's recommended parameters (Password Storage Cheat Sheet: 19 MiB of
#: memory, 2 iterations, 1 lane): about 20 ms a check here, where argon2-cffi's default (RFC 9106's
#: low-memory profile, 64 MiB and 4 lanes) took over 100 ms on two cores, and every e-signature
#: checks the password. Hashes made with other parameters still verify and are re-made at the
#: next log-in (`check_needs_rehash`).
_hasher = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)
MIN_PASSWORD_LENGTH = 10
TOKEN_PREFIX = "gxp_"  # noqa: S105 - a public prefix, not a secret


@dataclass(frozen=True)
class Policy:
    """The authentication policy in force (from settings)."""

    password_max_age_days: int = 90
    lockout_attempts: int = 5


# -- passwords -------------------------------------------------------------------------------

def hash_password(password: str) -> str:
    return _hasher.hash(password)


def signing_password_matches(user: User, password: str) -> bool:
    """The password check of a signature: Argon2 once per log-in session and process, then
    the session's keyed proof (see `engine.identity.proofs`)."""
    return proofs.check(user.id, user.password_hash, password,
                        lambda: password_matches(user, password), utcnow())


def password_matches(user: User, password: str) -> bool:
    try:
        return _hasher.verify(user.password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def check_password_policy(password: str, username: str) -> None:
    problems = []
    if len(password) < MIN_PASSWORD_LENGTH:
        problems.append(f"at least {MIN_PASSWORD_LENGTH} characters")
    if not re.search(r"[A-Za-z]", password) or not re.search(r"\d", password):
        problems.append("both letters and digits")
    if username and username.lower() in password.lower():
        problems.append("not containing the user name")
    if problems:
        raise InvalidInput("The password does not meet the policy.",
                           fields={"password": "The password needs " + ", ".join(problems) + "."})


def password_expired(user: User, policy: Policy, now: datetime | None = None) -> bool:
    now = now or utcnow()
    age = now - user.password_changed_at
    return user.must_change_password or age > timedelta(days=policy.password_max_age_days)


# -- users and roles -------------------------------------------------------------------------

# Segregation of duties (21 CFR 11.10(g) authority checks, GSP): a person never changes their
# own rights, and the system always keeps an administrator who can change anyone's. The
# messages are fixed text so that the pages can show them in the user's language.
OWN_GRANT = "You cannot grant a role to yourself: another administrator must do it."
OWN_REVOKE = "You cannot revoke your own role: another administrator must do it."
OWN_TRAINING = ("You cannot record your own training: another administrator or a quality "
                "manager must do it.")
# (S105: the names say "password"; the values are refusals, not passwords.)
OWN_PASSWORD_RESET = ("You cannot reset your own password: change it on your password page, "  # noqa: S105
                      "or ask another administrator.")
OWN_PASSWORD_RESET_ZH = "您不能重置自己的密码：请在“修改密码”页面修改，或请另一名系统管理员操作。"  # noqa: S105
OWN_SECOND_FACTOR_RESET = ("You cannot reset your own two-factor log-in: set it up again on "
                           "your two-factor page, or ask another administrator.")
OWN_SECOND_FACTOR_RESET_ZH = ("您不能重置自己的双因素登录：请在双因素登录页面重新设置，"
                              "或请另一名系统管理员操作。")
LAST_ADMINISTRATOR_REVOKE = (
    "The administrator role cannot be revoked from the last active administrator: GxPFlow "
    "must always have one. Make another trained user an administrator first; they can then "
    "revoke it.")
LAST_ADMINISTRATOR_DEACTIVATE = (
    "The last active administrator cannot be deactivated: GxPFlow must always have one. Make "
    "another trained user an administrator first; they can then deactivate this account.")


def _same_person(actor: User | audit.Actor, user: User) -> bool:
    """Whether the actor is the user acted on (the system and the CLI are nobody)."""
    return actor.id is not None and actor.id == user.id


def _keep_an_administrator(user: User, refusal: str) -> None:
    """Refuse, with `refusal`, unless an active administrator with valid training other than
    `user` remains.

    The grants are read locked (in id order) so that two administrators removing each other at
    the same moment cannot both pass: the second waits for the first to commit, then sees it."""
    others = db.session.execute(
        select(UserRole.user_id, _valid_training(utcnow().date()))
        .join(User, User.id == UserRole.user_id)
        .where(UserRole.role == ADMINISTRATOR, UserRole.revoked_at.is_(None),
               User.active.is_(True))
        .order_by(UserRole.id)
        .with_for_update()
    ).all()
    if not any(valid and user_id != user.id for user_id, valid in others):
        raise InvalidInput(refusal)


def get_user(user_id: int) -> User:
    user = db.session.get(User, user_id)
    if user is None:
        raise NotFound(f"User {user_id} does not exist.", zh=f"用户 {user_id} 不存在。")
    return user


def find_user(username: str) -> User | None:
    return db.session.scalar(select(User).where(func.lower(User.username) == username.lower()))


def create_user(actor: User | audit.Actor, username: str, full_name: str, password: str,
                email: str = "", must_change_password: bool = True) -> User:
    if isinstance(actor, User):
        require(actor, "users.manage")
    username = username.strip()
    fields = {}
    if not re.fullmatch(r"[A-Za-z0-9._-]{2,60}", username):
        fields["username"] = "Use 2-60 letters, digits, dots, dashes or underscores."
    if not full_name.strip():
        fields["full_name"] = "The printed name is required: it appears on signatures."
    if fields:
        raise InvalidInput("The user could not be created.", fields=fields)
    if find_user(username) is not None:
        raise Conflict(f"A user named {username!r} already exists.",
                       zh=f"用户名 {username} 已存在。",
                       fields={"username": "This user name is taken."})
    check_password_policy(password, username)
    user = User(username=username, full_name=full_name.strip(), email=email.strip(),
                password_hash=hash_password(password), password_changed_at=utcnow(),
                must_change_password=must_change_password)
    db.session.add(user)
    db.session.flush()
    audit.record(actor, "user.create", "user", user.id, after=user.audit_values())
    return user


def set_active(actor: User, user: User, active: bool, reason: str) -> None:
    """Deactivate or reactivate a user; users are never deleted. Nobody deactivates themself,
    and the last active administrator is not deactivated."""
    require(actor, "users.manage")
    if user.active == active:
        raise Conflict(f"{user.username} is already {'active' if active else 'deactivated'}.",
                       zh=f"用户 {user.username} 已处于{'启用' if active else '停用'}状态。")
    if not active:
        if ADMINISTRATOR in granted_roles(user):
            _keep_an_administrator(user, LAST_ADMINISTRATOR_DEACTIVATE)
        if _same_person(actor, user):
            raise InvalidInput("You cannot deactivate yourself.")
    before = user.audit_values()
    # Recorded first: a missing reason refuses the act before anything changes.
    audit.record(actor, "user.activate" if active else "user.deactivate", "user", user.id,
                 before=before, after={**before, "active": active}, reason=reason,
                 reason_required=True)
    user.active = active
    db.session.flush()


@functools.cache
def time_zones() -> frozenset[str]:
    """The IANA zones a user may show times in (not the host's `localtime` alias)."""
    return frozenset(available_timezones() - {"localtime", "Factory"})


def set_preferences(actor: User | audit.Actor, user: User, timezone: str | None,
                    locale: str | None) -> None:
    """Set the zone a user sees times in and the language of their pages (None: the
    configured default). Users set their own; setting another's needs `users.manage`."""
    if isinstance(actor, User) and actor.id != user.id:
        require(actor, "users.manage")
    fields = {}
    if timezone is not None and timezone not in time_zones():
        fields["timezone"] = "Choose a listed time zone."
    if locale is not None and locale not in LOCALES:
        fields["locale"] = "Choose a listed language."
    if fields:
        raise InvalidInput("The preferences were not saved.", fields=fields)
    before = {"timezone": user.timezone, "locale": user.locale}
    after = {"timezone": timezone, "locale": locale}
    if after == before:
        return
    user.timezone, user.locale = timezone, locale
    db.session.flush()
    audit.record(actor, "user.preferences", "user", user.id, before=before, after=after)


def record_training(actor: User | audit.Actor, user: User, role: str, trained_on: date,
                    expires_on: date | None, evidence: str) -> Training:
    """Record a user's training for a role; nobody records their own."""
    if isinstance(actor, User):
        require(actor, "training.record")
    if _same_person(actor, user):
        raise PermissionDenied(OWN_TRAINING)
    _check_role(role)
    fields = {}
    if not evidence.strip():
        fields["evidence"] = "Say what proves the training (course, certificate, document)."
    if expires_on is not None and expires_on < trained_on:
        fields["expires_on"] = "The expiry date is before the training date."
    if fields:
        raise InvalidInput("The training record is incomplete.", fields=fields)
    record = Training(user_id=user.id, role=role, trained_on=trained_on, expires_on=expires_on,
                      evidence=evidence.strip(),
                      recorded_by=actor.id if isinstance(actor, User) else None)
    db.session.add(record)
    db.session.flush()
    audit.record(actor, "training.record", "user", user.id,
                 after={"role": role, "trained_on": trained_on.isoformat(),
                        "expires_on": expires_on.isoformat() if expires_on else None,
                        "evidence": record.evidence})
    return record


def training_records(user: User) -> list[Training]:
    """A user's training records, newest first."""
    return list(db.session.scalars(
        select(Training).where(Training.user_id == user.id)
        .order_by(Training.trained_on.desc(), Training.id.desc())
    ))


def training_content(record: Training) -> dict[str, object]:
    """What a signature on a training record is bound to (see `engine.signatures`)."""
    return {
        "user_id": record.user_id,
        "role": record.role,
        "trained_on": record.trained_on.isoformat(),
        "expires_on": record.expires_on.isoformat() if record.expires_on else None,
        "evidence": record.evidence,
    }


def valid_training(user: User, role: str, today: date | None = None) -> Training | None:
    today = today or utcnow().date()
    records = db.session.scalars(
        select(Training).where(Training.user_id == user.id, Training.role == role)
    )
    return next((t for t in records if t.valid_on(today)), None)


def grant_role(actor: User | audit.Actor, user: User, role: str) -> UserRole:
    """Grant a role; refused unless the user has valid training for it (21 CFR 11.10(i)),
    and always to oneself."""
    if isinstance(actor, User):
        require(actor, "users.manage")
    if _same_person(actor, user):
        raise PermissionDenied(OWN_GRANT)
    _check_role(role)
    if not user.active:
        raise InvalidInput(f"{user.username} is deactivated: reactivate the user first.",
                           zh=f"用户 {user.username} 已停用：请先重新启用该用户。")
    if role != API_CLIENT and valid_training(user, role) is None:
        raise InvalidInput(
            f"{user.full_name} has no valid training record for the role {ROLES[role]['en']}.",
            zh=f"{user.full_name} 没有角色“{ROLES[role]['zh']}”的有效培训记录。",
            fields={"role": "Record the training first, then grant the role."},
        )
    if role in granted_roles(user):
        raise Conflict(f"{user.username} already has the role {role}.",
                       zh=f"用户 {user.username} 已拥有角色“{ROLES[role]['zh']}”。")
    grant = UserRole(user_id=user.id, role=role,
                     granted_by=actor.id if isinstance(actor, User) else None)
    db.session.add(grant)
    db.session.flush()
    db.session.refresh(user, ["roles"])
    audit.record(actor, "role.grant", "user", user.id, after={"role": role})
    return grant


def revoke_role(actor: User, user: User, role: str, reason: str) -> None:
    """Revoke a role; refused for one's own roles and for the last active administrator's
    administrator role."""
    require(actor, "users.manage")
    grant = next((g for g in user.roles if g.role == role and g.revoked_at is None), None)
    if grant is None:
        raise NotFound(f"{user.username} does not have the role {role}.",
                       zh=f"用户 {user.username} 没有角色“{ROLES.get(role, {}).get('zh', role)}”。")
    if role == ADMINISTRATOR:
        _keep_an_administrator(user, LAST_ADMINISTRATOR_REVOKE)
    if _same_person(actor, user):
        raise PermissionDenied(OWN_REVOKE)
    audit.record(actor, "role.revoke", "user", user.id, before={"role": role},
                 reason=reason, reason_required=True)
    grant.revoked_at = utcnow()
    grant.revoked_by = actor.id
    db.session.flush()


def granted_roles(user: User) -> set[str]:
    return {g.role for g in user.roles if g.revoked_at is None}


def effective_roles(user: User, today: date | None = None) -> set[str]:
    """Granted roles whose training is still valid; expired training suspends the role, and
    an inactive user has none.

    One statement (the grants not revoked, each with whether valid training exists), read
    once per transaction: a page checks permissions several times (the view guard, the view,
    the service) and the rows cannot change meanwhile except through this session, so the
    answer is kept in the session until the transaction (or a savepoint) ends or a user, role
    or training row is written."""
    today = today or utcnow().date()
    session = db.session()
    if _identity_changed(session):
        session.info.pop(_ROLES_KEY, None)  # unflushed changes: the query below flushes them
    identity_key: tuple[object, ...] | None = inspect(user).identity
    user_id = identity_key[0] if identity_key else user.id  # no reload of an expired user
    key = (user_id, today)
    found: frozenset[str] | None = session.info.get(_ROLES_KEY, {}).get(key)
    if found is None:
        found = _effective(session.execute(_ROLES_QUERY, {"user_id": user_id,
                                                          "today": today}).all())
        session.info.setdefault(_ROLES_KEY, {})[key] = found
    return set(found)


def _effective(grants: Iterable[Any]) -> frozenset[str]:
    """Roles from (role, has valid training) rows: an API client needs no training."""
    return frozenset(role for role, valid in grants
                     if role is not None and (valid or role == API_CLIENT))


@dataclass(frozen=True)
class LoadedUser:
    user: User
    mfa_required: bool
    """Whether a role they hold demands two-factor log-in."""
    unread: int
    """Their unread in-app notifications (the header's badge)."""


def load_user(user_id: int, today: date | None = None) -> LoadedUser | None:
    """A user, the 2FA demand and their unread notifications in one statement that also reads
    their effective roles (kept for the transaction, as `effective_roles` keeps them): what
    every request of a logged-in person needs first."""
    today = today or utcnow().date()
    rows = db.session.execute(_USER_QUERY, {"user_id": user_id, "today": today}).all()
    if not rows:
        return None
    user, mfa, unread = rows[0][0], bool(rows[0][1]), int(rows[0][2] or 0)
    roles = _effective(row[3:] for row in rows) if user.active else frozenset()
    db.session().info.setdefault(_ROLES_KEY, {})[(user.id, today)] = roles
    return LoadedUser(user, mfa, unread)


def _valid_training(today: Any) -> Any:
    return exists().where(
        Training.user_id == UserRole.user_id, Training.role == UserRole.role,
        Training.trained_on <= today,
        or_(Training.expires_on.is_(None), Training.expires_on >= today))


#: A user's grants not revoked (an inactive user has none), each with whether valid training
#: for it exists on `today`.
_ROLES_QUERY = (
    select(UserRole.role, _valid_training(bindparam("today")))
    .join(User, User.id == UserRole.user_id)
    .where(UserRole.user_id == bindparam("user_id"), UserRole.revoked_at.is_(None),
           User.active.is_(True)))

#: Whether a role the user holds (granted, not revoked) demands two-factor log-in.
_MFA_DEMANDED = exists().where(UserRole.user_id == User.id, UserRole.revoked_at.is_(None),
                               RolePolicy.role == UserRole.role, RolePolicy.mfa_required.is_(True))

#: How many of the user's in-app notifications are unread.
_UNREAD = (select(func.count()).select_from(Notification)
           .where(Notification.user_id == User.id, Notification.read_at.is_(None))
           .scalar_subquery())

#: The user, whether a role they hold demands 2FA, their unread notifications, and one row
#: per grant not revoked with whether valid training for it exists on `today` (one row with
#: no role when none).
_USER_QUERY = (
    select(User, _MFA_DEMANDED, _UNREAD, UserRole.role, _valid_training(bindparam("today")))
    .outerjoin(UserRole, and_(UserRole.user_id == User.id, UserRole.revoked_at.is_(None)))
    .where(User.id == bindparam("user_id"))
    .options(lazyload(User.roles)))


#: session.info key: {(user id, day): effective roles} read in this transaction.
_ROLES_KEY = "gxpflow.identity.effective"
#: Rows whose change can change someone's effective roles.
_IDENTITY_ROWS = (User, UserRole, Training)


def _identity_changed(session: Session) -> bool:
    """Whether the session holds user, role or training rows not yet written."""
    return any(isinstance(obj, _IDENTITY_ROWS)
               for obj in (*session.new, *session.dirty, *session.deleted))


def _forget_roles(session: Session, *_args: object) -> None:
    session.info.pop(_ROLES_KEY, None)


def _forget_roles_at_end(session: Session, transaction: object) -> None:
    if ends_work(transaction):  # not at each flush: what they read is still so
        _forget_roles(session)


def _forget_roles_if_written(session: Session, _context: object) -> None:
    if _identity_changed(session):
        session.info.pop(_ROLES_KEY, None)


def _forget_roles_on_dml(execute_state: ORMExecuteState) -> None:
    if not execute_state.is_select and any(
            mapper.class_ in _IDENTITY_ROWS for mapper in execute_state.all_mappers):
        execute_state.session.info.pop(_ROLES_KEY, None)


event.listen(Session, "after_transaction_end", _forget_roles_at_end)
event.listen(Session, "after_soft_rollback", _forget_roles)
event.listen(Session, "after_flush", _forget_roles_if_written)
event.listen(Session, "do_orm_execute", _forget_roles_on_dml)


def suspended_roles(user: User, today: date | None = None) -> set[str]:
    return granted_roles(user) - effective_roles(user, today)


def can(user: User, action: str) -> bool:
    return bool(effective_roles(user) & allowed_roles(action))


def require(user: User, action: str) -> None:
    """Refuse the action unless one of the user's effective roles allows it."""
    if not can(user, action):
        roles = ", ".join(sorted(ROLES[r]["en"] for r in allowed_roles(action))) or "nobody"
        roles_zh = "、".join(sorted(ROLES[r]["zh"] for r in allowed_roles(action))) or "无"
        raise PermissionDenied(
            f"{user.full_name} may not do this ({action}); it needs one of: {roles}. "
            "If you hold the role, check that your training record is still valid.",
            zh=f"{user.full_name} 无权执行此操作（{action}），需要以下角色之一：{roles_zh}。"
               "如您持有该角色，请检查您的培训记录是否仍然有效。"
        )


def _check_role(role: str) -> None:
    if role not in ROLES:
        raise InvalidInput(f"Unknown role {role!r}.", zh=f"未知角色 {role!r}。",
                           fields={"role": "Choose a listed role."})


def mfa_required(user: User) -> bool:
    return bool(db.session.scalar(select(_MFA_DEMANDED).where(User.id == user.id)))


def set_mfa_required(actor: User, role: str, required: bool) -> None:
    require(actor, "users.manage")
    _check_role(role)
    policy = db.session.get(RolePolicy, role) or RolePolicy(role=role)
    before = {"mfa_required": bool(policy.mfa_required)}
    policy.mfa_required = required
    db.session.add(policy)
    db.session.flush()
    audit.record(actor, "role.policy", "role", role, before=before,
                 after={"mfa_required": required})


# -- authentication --------------------------------------------------------------------------

def authenticate(username: str, password: str, policy: Policy) -> User:
    """Check a user name and password; count failures and lock the account after too many.

    The failure is counted and audited even though the caller refuses the log-in, so the
    caller must commit after a `NotAuthenticated` too.
    """
    user = find_user(username)
    refusal = NotAuthenticated("The user name or password is wrong.")
    if user is None:
        audit.record(audit.SYSTEM, "login.failed", "user", username[:80],
                     after={"username": username[:60], "reason": "unknown user"})
        raise refusal
    if not user.active:
        audit.record(audit.SYSTEM, "login.refused", "user", user.id,
                     after={"reason": "deactivated"})
        raise NotAuthenticated("This account is deactivated. Ask your administrator.")
    if user.locked_at is not None:
        audit.record(audit.SYSTEM, "login.refused", "user", user.id, after={"reason": "locked"})
        raise NotAuthenticated(
            "This account is locked after too many failed log-ins. Ask your administrator "
            "to unlock it."
        )
    if not password_matches(user, password):
        register_failure(user, policy, "wrong password")
        raise refusal
    if user.failed_attempts:
        user.failed_attempts = 0
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    db.session.flush()
    return user


def register_failure(user: User, policy: Policy, reason: str) -> None:
    user.failed_attempts += 1
    audit.record(audit.SYSTEM, "login.failed", "user", user.id,
                 after={"reason": reason, "failed_attempts": user.failed_attempts})
    if user.failed_attempts >= policy.lockout_attempts and user.locked_at is None:
        user.locked_at = utcnow()
        audit.record(audit.SYSTEM, "user.lock", "user", user.id,
                     after={"failed_attempts": user.failed_attempts})
        notify_role(
            ADMINISTRATOR,
            Bilingual(f"Account {user.username} locked", f"账号 {user.username} 已锁定"),
            Bilingual(f"{user.full_name} ({user.username}) was locked after "
                      f"{user.failed_attempts} failed log-in attempts. Unlock it on the user's "
                      "page once you know why.",
                      f"{user.full_name}（{user.username}）连续 {user.failed_attempts} 次登录失败，"
                      "账号已锁定。查明原因后请在该用户页面解锁。"),
        )
    db.session.flush()


def unlock(actor: User, user: User, reason: str) -> None:
    require(actor, "users.manage")
    if user.locked_at is None and not user.failed_attempts:
        raise Conflict(f"{user.username} is not locked.", zh=f"用户 {user.username} 未被锁定。")
    audit.record(actor, "user.unlock", "user", user.id, reason=reason, reason_required=True)
    user.locked_at = None
    user.failed_attempts = 0
    db.session.flush()


def change_password(user: User, current: str, new: str, policy: Policy) -> None:
    if not password_matches(user, current):
        register_failure(user, policy, "wrong current password on change")
        raise InvalidInput("The current password is wrong.",
                           fields={"current_password": "This is not your current password."})
    if current == new:
        raise InvalidInput("Choose a new password different from the current one.",
                           fields={"new_password": "The new password must differ."})
    check_password_policy(new, user.username)
    user.password_hash = hash_password(new)
    user.password_changed_at = utcnow()
    user.must_change_password = False
    db.session.flush()
    audit.record(user, "user.password_change", "user", user.id)


def reset_password(actor: User, user: User, new: str, reason: str) -> None:
    """An administrator sets a temporary password; the user must change it at next log-in.

    Nobody resets their own (they change it, proving the current one). The reset also lifts a
    lock-out: the administrator has dealt with the person, as an unlock would, and the new
    password is the only one that opens the account now."""
    require(actor, "users.manage")
    if _same_person(actor, user):
        raise PermissionDenied(OWN_PASSWORD_RESET, zh=OWN_PASSWORD_RESET_ZH)
    fields = {}
    try:
        check_password_policy(new, user.username)
    except InvalidInput as weak:
        fields.update(weak.fields)
    if not reason.strip():
        fields["reason"] = "Say why the password is reset."
    if fields:
        raise InvalidInput("The password was not reset.", fields=fields)
    audit.record(actor, "user.password_reset", "user", user.id,
                 before={"must_change_password": user.must_change_password,
                         "locked": user.locked_at is not None,
                         "failed_attempts": user.failed_attempts},
                 after={"must_change_password": True, "locked": False, "failed_attempts": 0},
                 reason=reason, reason_required=True)
    user.password_hash = hash_password(new)
    user.password_changed_at = utcnow()
    user.must_change_password = True
    user.locked_at = None
    user.failed_attempts = 0
    db.session.flush()


# -- two-factor log-in -----------------------------------------------------------------------

def start_totp_enrolment(user: User) -> str:
    """A new secret (not yet active) for the user to add to an authenticator app."""
    user.totp_secret = pyotp.random_base32()
    user.totp_enabled = False
    user.totp_last_step = None  # the steps accepted were the old secret's
    db.session.flush()
    return user.totp_secret


def restart_totp_enrolment(user: User, password: str, policy: Policy) -> str:
    """Move two-factor log-in to a new phone. The user proves it is them with their password
    first (a session left open must not be enough to switch the second factor off); then the
    old secret and recovery codes stop working and a new secret is returned to enrol. Audited;
    a wrong password counts towards the lock-out."""
    if not password_matches(user, password):
        register_failure(user, policy, "wrong password to set up two-factor log-in again")
        raise NotAuthenticated("The password is wrong: two-factor log-in stays as it was.",
                               zh="密码错误：双因素登录保持不变。")
    audit.record(user, "user.totp_restart", "user", user.id,
                 before={"totp_enabled": user.totp_enabled},
                 after={"totp_enabled": False, "recovery_codes": 0})
    user.recovery_codes = "[]"
    return start_totp_enrolment(user)


def totp_uri(user: User) -> str:
    if not user.totp_secret:
        raise InvalidInput("Two-factor enrolment has not been started.")
    return pyotp.TOTP(user.totp_secret).provisioning_uri(name=user.username, issuer_name="GxPFlow")


def qr_svg(data: str) -> str:
    image = qrcode.make(data, image_factory=qrcode.image.svg.SvgPathImage, box_size=8)
    buffer = BytesIO()
    image.save(buffer)
    return buffer.getvalue().decode("utf-8")


def confirm_totp_enrolment(user: User, code: str, now: datetime | None = None) -> list[str]:
    """Activate two-factor log-in once the user proves the app works; returns recovery codes.

    The code confirming enrolment is spent like a log-in code: it does not log in again."""
    if not _accept_totp(user, code.strip().replace(" ", ""), now):
        raise InvalidInput("The code does not match. Check the time on your phone and try again.",
                           fields={"code": "Wrong or expired code."})
    codes = [secrets.token_hex(5) for _ in range(10)]
    user.recovery_codes = json.dumps([_sha256(c) for c in codes])
    user.totp_enabled = True
    db.session.flush()
    audit.record(user, "user.totp_enable", "user", user.id)
    return codes


def verify_second_factor(user: User, code: str, policy: Policy,
                         now: datetime | None = None) -> None:
    """Accept a current TOTP code not accepted before or an unused recovery code (each is
    then spent). A replayed code is refused and counted as a wrong one."""
    code = code.strip().replace(" ", "")
    if user.totp_enabled and _accept_totp(user, code, now):
        return
    hashes: list[str] = json.loads(user.recovery_codes or "[]")
    digest = _sha256(code.lower())
    if digest in hashes:
        hashes.remove(digest)
        user.recovery_codes = json.dumps(hashes)
        db.session.flush()
        audit.record(user, "user.recovery_code_used", "user", user.id,
                     after={"remaining": len(hashes)})
        return
    register_failure(user, policy, "wrong second factor")
    raise NotAuthenticated("The two-factor code is wrong or expired.")


def _accept_totp(user: User, code: str, now: datetime | None = None) -> bool:
    """Whether `code` is the user's TOTP code of the step before, at or after `now` (clock
    drift) and later than the step last accepted, which it then becomes: each code is accepted
    once (RFC 6238, section 5.2), so a code seen over a shoulder or captured on the way cannot
    log in again within its 90 seconds.

    The step is claimed by one conditional UPDATE, so two log-ins racing with the same code
    cannot both pass: the second waits for the first's row lock, then finds the step taken."""
    if not user.totp_secret or not re.fullmatch(r"[0-9]{6}", code):
        return False
    totp = pyotp.TOTP(user.totp_secret)
    now = now or utcnow()
    current = totp.timecode(now)
    last = -1 if user.totp_last_step is None else user.totp_last_step
    step = next((current + offset for offset in (-1, 0, 1)
                 if current + offset > last
                 and hmac.compare_digest(totp.at(now, counter_offset=offset), code)), None)
    if step is None:
        return False
    claimed = db.session.execute(
        update(User)
        .where(User.id == user.id,
               or_(User.totp_last_step.is_(None), User.totp_last_step < step))
        .values(totp_last_step=step)
        .execution_options(synchronize_session=False)
    )
    if claimed.rowcount != 1:  # type: ignore[attr-defined]
        return False
    set_committed_value(user, "totp_last_step", step)
    return True


def reset_second_factor(actor: User, user: User, reason: str) -> None:
    """Switch a user's two-factor log-in off (a lost or replaced phone): the secret, the
    recovery codes and the last step go. Where a role of theirs demands two factors, they set
    it up again at their next log-in. Nobody resets their own."""
    require(actor, "users.manage")
    if _same_person(actor, user):
        raise PermissionDenied(OWN_SECOND_FACTOR_RESET, zh=OWN_SECOND_FACTOR_RESET_ZH)
    remaining = len(json.loads(user.recovery_codes or "[]"))
    if not (user.totp_enabled or user.totp_secret or remaining):
        raise Conflict(f"{user.username} has no two-factor log-in to reset.",
                       zh=f"用户 {user.username} 未设置双因素登录，无需重置。")
    # Recorded first: a missing reason refuses the act before anything changes.
    audit.record(actor, "user.totp_reset", "user", user.id,
                 before={"totp_enabled": user.totp_enabled, "recovery_codes": remaining},
                 after={"totp_enabled": False, "recovery_codes": 0},
                 reason=reason, reason_required=True)
    user.totp_secret = None
    user.totp_enabled = False
    user.totp_last_step = None
    user.recovery_codes = "[]"
    db.session.flush()


# -- API tokens ------------------------------------------------------------------------------

def create_token(actor: User | audit.Actor, user: User, name: str, days: int = 365) -> str:
    """Create a token for an API client; the plain token is returned once and never stored."""
    if isinstance(actor, User):
        require(actor, "tokens.manage")
    if API_CLIENT not in granted_roles(user):
        raise InvalidInput(f"{user.username} does not have the API client role.",
                           zh=f"用户 {user.username} 没有接口客户端角色。")
    if not 1 <= days <= 730:
        raise InvalidInput("A token lives between 1 and 730 days.", fields={"days": "1-730"})
    plain = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(user_id=user.id, name=name.strip() or "API token", prefix=plain[:10],
                     token_hash=_sha256(plain), created_by=actor.id,
                     expires_at=utcnow() + timedelta(days=days))
    db.session.add(token)
    db.session.flush()
    audit.record(actor, "token.create", "api_token", token.id,
                 after={"user": user.username, "name": token.name, "prefix": token.prefix,
                        "expires_at": token.expires_at.isoformat()})
    return plain


def revoke_token(actor: User, token: ApiToken, reason: str) -> None:
    require(actor, "tokens.manage")
    if token.revoked_at is not None:
        raise Conflict("This token is already revoked.")
    audit.record(actor, "token.revoke", "api_token", token.id, reason=reason,
                 reason_required=True)
    token.revoked_at = utcnow()
    db.session.flush()


def authenticate_token(plain: str) -> User:
    token = db.session.scalar(select(ApiToken).where(ApiToken.token_hash == _sha256(plain)))
    now = utcnow()
    if token is None or token.revoked_at is not None or token.expires_at <= now:
        raise NotAuthenticated("The API token is unknown, revoked or expired.")
    if not token.user.active:
        raise NotAuthenticated("The API client's user is deactivated.")
    if token.last_used_at is None or now - token.last_used_at > timedelta(minutes=1):
        token.last_used_at = now
    return token.user


# -- notifications ---------------------------------------------------------------------------

def notify_users(users: Iterable[User], subject: str, body: str) -> int:
    """One notification per user; a `Bilingual` subject or body keeps its Chinese too."""
    subject_zh = getattr(subject, "zh", "")[:200]
    body_zh = getattr(body, "zh", "")
    count = 0
    for user in users:
        db.session.add(Notification(user_id=user.id, subject=str(subject)[:200], body=str(body),
                                    subject_zh=subject_zh, body_zh=body_zh))
        count += 1
    db.session.flush()
    return count


def users_with_role(role: str) -> list[User]:
    query = (
        select(User).join(UserRole, UserRole.user_id == User.id)
        .where(UserRole.role == role, UserRole.revoked_at.is_(None), User.active.is_(True))
        .distinct()
    )
    return list(db.session.scalars(query))


def notify_role(role: str, subject: str, body: str) -> int:
    return notify_users(users_with_role(role), subject, body)


def _sha256(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8")).hexdigest()
