"""Views of the admin blueprint. Every change goes through `engine.identity.service`, which checks
the permission again and writes the audit event; the view only commits or rolls back."""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import date
from typing import Any, TypeVar

from flask import current_app, flash, make_response, redirect, render_template, request, url_for
from flask_wtf import FlaskForm
from sqlalchemy import or_, select
from werkzeug.wrappers import Response

from engine import signatures
from engine.audit import AuditEvent
from engine.db import db, utcnow
from engine.errors import GxpError, NotFound
from engine.identity import roles
from engine.identity import service as identity
from engine.identity.models import ApiToken, RolePolicy, User, UserRole
from web import security, settings_of
from web.admin import bp
from web.admin.forms import (
    ConfirmReasonForm,
    CreateUserForm,
    GrantRoleForm,
    ReasonForm,
    ResetPasswordForm,
    RevokeRoleForm,
    RolePolicyForm,
    TokenForm,
    TrainingForm,
)
from web.auth.forms import LANGUAGE_NAMES, language_choices, timezone_choices
from web.i18n import form_problems, get_locale, refusal
from web.i18n import translate as _
from web.paging import paginate
from web.security import requires

F = TypeVar("F", bound=Callable[..., Any])

#: Who may open the user pages: administrators and auditors read them, and quality managers
#: need them to record training.
VIEW_USERS = ("users.view", "training.record")


def requires_any(*actions: str) -> Callable[[F], F]:
    """Like `requires`, for pages more than one permission opens."""

    def decorate(view: F) -> F:
        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if not any(security.can(action) for action in actions):
                identity.require(security.user(), actions[0])
            return view(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorate


def role_name(role: str) -> str:
    return roles.role_label(role, get_locale())


@bp.context_processor
def _helpers() -> dict[str, Any]:
    return {"role_name": role_name, "language_name": LANGUAGE_NAMES.get}


def _role_choices(include_api_client: bool = True) -> list[tuple[str, str]]:
    return [(role, role_name(role)) for role in roles.ROLES
            if include_api_client or role != roles.API_CLIENT]


def _preference_choices(form: CreateUserForm) -> None:
    """Every IANA zone and language, after an empty choice that keeps the configured default."""
    settings = settings_of(current_app)
    form.timezone.choices = [("", _("Default ({value})", value=settings.default_timezone)),
                             *((zone, zone) for zone in timezone_choices())]
    form.locale.choices = [("", _("Default ({value})",
                                  value=LANGUAGE_NAMES.get(settings.default_locale, ""))),
                           *language_choices()]


def _refused(error: GxpError, form: FlaskForm | None = None) -> None:
    """Undo the unit of work and tell the person why, with the reason for each field (named
    by its label when the `form` has the field)."""
    db.session.rollback()
    reasons = " ".join(
        _("{field}: {reason}", field=_(str(form[name].label.text)), reason=_(str(reason)))
        if form is not None and name in form else _(str(reason))
        for name, reason in error.fields.items())
    flash(f"{refusal(error)} {reasons}".strip(), "error")


def _user(user_id: int) -> User:
    return identity.get_user(user_id)


# -- users -----------------------------------------------------------------------------------

@bp.get("/")
@requires_any(*VIEW_USERS)
def index() -> str:
    query = select(User)
    search = request.args.get("q", "").strip()
    if search:
        pattern = f"%{search}%"
        query = query.where(or_(User.username.ilike(pattern), User.full_name.ilike(pattern),
                                User.email.ilike(pattern)))
    status = request.args.get("status", "")
    if status == "active":
        query = query.where(User.active.is_(True))
    elif status == "inactive":
        query = query.where(User.active.is_(False))
    elif status == "locked":
        query = query.where(User.locked_at.is_not(None))
    page = paginate(query, {"username": User.username, "full_name": User.full_name,
                            "created_at": User.created_at, "active": User.active},
                    default_sort="username", default_direction="asc")
    suspended = {user.id: identity.suspended_roles(user) for user in page.items}
    return render_template("admin/users.html", page=page, search=search, status=status,
                           suspended=suspended)


@bp.route("/users/new", methods=["GET", "POST"])
@requires("users.manage")
def create_user() -> str | Response:
    form = CreateUserForm()
    _preference_choices(form)
    errors: dict[str, str] = {}
    if form.validate_on_submit():
        try:
            user = identity.create_user(security.user(), form.username.data or "",
                                        form.full_name.data or "", form.password.data or "",
                                        email=form.email.data or "", must_change_password=True)
            if form.timezone.data or form.locale.data:
                identity.set_preferences(security.user(), user, form.timezone.data or None,
                                         form.locale.data or None)
        except GxpError as refused:
            _refused(refused)
            errors = {name: str(reason) for name, reason in refused.fields.items()}
        else:
            db.session.commit()
            flash(_("User {username} created. Record their training, then grant roles.",
                    username=user.username), "info")
            return redirect(url_for("admin.user", user_id=user.id))
    return render_template("admin/create_user.html", form=form, errors=errors)


@bp.get("/users/<int:user_id>")
@requires_any(*VIEW_USERS)
def user(user_id: int) -> str:
    found = _user(user_id)
    today = utcnow().date()
    trainings = identity.training_records(found)
    grant_form = GrantRoleForm()
    grant_form.role.choices = _role_choices()
    training_form = TrainingForm(trained_on=today)
    training_form.role.choices = _role_choices(include_api_client=False)
    history = list(db.session.scalars(
        select(AuditEvent).where(AuditEvent.entity_type == "user",
                                 AuditEvent.entity_id == str(found.id))
        .order_by(AuditEvent.seq.desc()).limit(10)
    )) if security.can("audit.view") else []
    return render_template(
        "admin/user.html", user=found, today=today, trainings=trainings,
        signed={t.id: signatures.checked_signatures("training_record", t.id,
                                                    identity.training_content(t))
                for t in trainings},
        grants=sorted(found.roles, key=lambda g: (g.revoked_at is not None, g.granted_at)),
        effective=identity.effective_roles(found), names=_names(found.roles),
        grant_form=grant_form, training_form=training_form, reason_form=ReasonForm(),
        revoke_form=RevokeRoleForm(), password_form=ResetPasswordForm(), history=history,
    )


def _names(grants: list[UserRole]) -> dict[int, str]:
    ids = {i for g in grants for i in (g.granted_by, g.revoked_by) if i is not None}
    if not ids:
        return {}
    return {u.id: u.full_name for u in db.session.scalars(select(User).where(User.id.in_(ids)))}


@bp.route("/users/<int:user_id>/deactivate", methods=["GET", "POST"])
@requires("users.manage")
def deactivate(user_id: int) -> str | Response:
    """Ask for confirmation and a reason; users are deactivated, never deleted."""
    found = _user(user_id)
    form = ReasonForm()
    if form.validate_on_submit():
        try:
            identity.set_active(security.user(), found, False, form.reason.data or "")
        except GxpError as refused:
            _refused(refused)
        else:
            db.session.commit()
            flash(_("{name} is deactivated and can no longer log in.", name=found.full_name),
                  "info")
        return redirect(url_for("admin.user", user_id=user_id))
    return render_template("admin/deactivate.html", user=found, form=form)


@bp.post("/users/<int:user_id>/reactivate")
@requires("users.manage")
def reactivate(user_id: int) -> Response:
    return _reasoned_change(user_id, "reactivate")


@bp.post("/users/<int:user_id>/unlock")
@requires("users.manage")
def unlock(user_id: int) -> Response:
    return _reasoned_change(user_id, "unlock")


def _reasoned_change(user_id: int, act: str) -> Response:
    found = _user(user_id)
    form = ReasonForm()
    if not form.validate_on_submit():
        flash(_("Say why: a reason is required for this change."), "error")
        return redirect(url_for("admin.user", user_id=user_id))
    try:
        if act == "reactivate":
            identity.set_active(security.user(), found, True, form.reason.data or "")
            done = _("{name} is active again.", name=found.full_name)
        else:
            identity.unlock(security.user(), found, form.reason.data or "")
            done = _("{name} is unlocked.", name=found.full_name)
    except GxpError as refused:
        _refused(refused)
    else:
        db.session.commit()
        flash(done, "info")
    return redirect(url_for("admin.user", user_id=user_id))


@bp.post("/users/<int:user_id>/password")
@requires("users.manage")
def reset_password(user_id: int) -> Response:
    """Set a temporary password the user must change at next log-in (lifts a lock-out)."""
    form = ResetPasswordForm()
    return _act_on_user(
        user_id, form, _("The password was not reset."),
        lambda found: identity.reset_password(security.user(), found, form.password.data or "",
                                              form.reason.data or ""),
        lambda found: _("The password of {name} was reset. Give them the temporary password "
                        "yourself: they must change it at their next log-in.",
                        name=found.full_name))


@bp.post("/users/<int:user_id>/two-factor")
@requires("users.manage")
def reset_second_factor(user_id: int) -> Response:
    """Switch a user's two-factor log-in off (lost phone); a role that demands it makes them
    set it up again at their next log-in."""
    form = ReasonForm()
    return _act_on_user(
        user_id, form, _("Two-factor log-in was not reset."),
        lambda found: identity.reset_second_factor(security.user(), found,
                                                   form.reason.data or ""),
        lambda found: _("Two-factor log-in of {name} is reset: their old codes and recovery "
                        "codes no longer work.", name=found.full_name))


def _act_on_user(user_id: int, form: FlaskForm, not_done: str, act: Callable[[User], None],
                 done: Callable[[User], str]) -> Response:
    """An administrator's act on a user from a submitted form: committed and said, or undone
    with each refused field named by its label; back to the user's page either way."""
    found = _user(user_id)
    if not form.validate_on_submit():
        flash(f"{not_done} {form_problems(form)}", "error")
        return redirect(url_for("admin.user", user_id=user_id))
    try:
        act(found)
    except GxpError as refused:
        _refused(refused, form)
    else:
        db.session.commit()
        flash(done(found), "info")
    return redirect(url_for("admin.user", user_id=user_id))


@bp.post("/users/<int:user_id>/roles")
@requires("users.manage")
def grant_role(user_id: int) -> Response:
    found = _user(user_id)
    form = GrantRoleForm()
    form.role.choices = _role_choices()
    if form.validate_on_submit():
        role = form.role.data or ""
        try:
            identity.grant_role(security.user(), found, role)
        except GxpError as refused:
            _refused(refused)
        else:
            db.session.commit()
            flash(_("Role {role} granted to {name}.", role=role_name(role),
                    name=found.full_name), "info")
    else:
        flash(_("Choose a listed role."), "error")
    return redirect(url_for("admin.user", user_id=user_id))


@bp.post("/users/<int:user_id>/roles/revoke")
@requires("users.manage")
def revoke_role(user_id: int) -> Response:
    found = _user(user_id)
    form = RevokeRoleForm()
    if not form.validate_on_submit():
        flash(_("Say why: a reason is required for this change."), "error")
        return redirect(url_for("admin.user", user_id=user_id))
    role = form.role.data or ""
    try:
        identity.revoke_role(security.user(), found, role, form.reason.data or "")
    except GxpError as refused:
        _refused(refused)
    else:
        db.session.commit()
        flash(_("Role {role} revoked from {name}.", role=role_name(role),
                name=found.full_name), "info")
    return redirect(url_for("admin.user", user_id=user_id))


@bp.post("/users/<int:user_id>/training")
@requires("training.record")
def add_training(user_id: int) -> str | Response:
    found = _user(user_id)
    form = TrainingForm()
    form.role.choices = _role_choices(include_api_client=False)
    if not form.validate_on_submit():
        flash(_("The training record is incomplete.") + " " + form_problems(form), "error")
        return redirect(url_for("admin.user", user_id=user_id))
    role = form.role.data or ""
    trained_on: date = form.trained_on.data  # type: ignore[assignment]
    try:
        identity.record_training(security.user(), found, role, trained_on,
                                 form.expires_on.data, form.evidence.data or "")
    except GxpError as refused:
        _refused(refused)
    else:
        db.session.commit()
        flash(_("Training for {role} recorded.", role=role_name(role)), "info")
    return redirect(url_for("admin.user", user_id=user_id))


# -- role policy -----------------------------------------------------------------------------

@bp.route("/roles", methods=["GET", "POST"])
@requires("users.view")
def role_policy() -> str | Response:
    form = RolePolicyForm()
    policies = {p.role: p.mfa_required for p in db.session.scalars(select(RolePolicy))}
    if request.method == "POST":
        identity.require(security.user(), "users.manage")
        if form.validate_on_submit():
            changed = []
            try:
                for role in roles.ROLES:
                    wanted = request.form.get(f"mfa_{role}") == "on"
                    if wanted != policies.get(role, False):
                        identity.set_mfa_required(security.user(), role, wanted)
                        changed.append(role_name(role))
            except GxpError as refused:
                _refused(refused)
            else:
                db.session.commit()
                flash(_("Two-factor policy saved: {roles}.", roles=", ".join(changed))
                      if changed else _("Nothing changed."), "info")
            return redirect(url_for("admin.role_policy"))
    return render_template("admin/roles.html", form=form, policies=policies,
                           permissions=_permissions_by_role())


def _permissions_by_role() -> dict[str, list[str]]:
    table: dict[str, list[str]] = {role: [] for role in roles.ROLES}
    for action, allowed in sorted(roles.PERMISSIONS.items()):
        for role in allowed:
            table[role].append(action)
    return table


# -- API tokens ------------------------------------------------------------------------------

def _api_clients() -> list[User]:
    return identity.users_with_role(roles.API_CLIENT)


@bp.route("/tokens", methods=["GET", "POST"])
@requires("tokens.manage")
def tokens() -> Any:
    form = TokenForm()
    form.user_id.choices = [(u.id, f"{u.full_name} ({u.username})") for u in _api_clients()]
    new_token = None
    if form.validate_on_submit():
        try:
            client = _user(form.user_id.data)  # type: ignore[arg-type]
            new_token = identity.create_token(security.user(), client, form.name.data or "",
                                              form.days.data or 365)
        except GxpError as refused:
            _refused(refused)
        else:
            db.session.commit()
            form = TokenForm(formdata=None)
            form.user_id.choices = [(u.id, f"{u.full_name} ({u.username})")
                                    for u in _api_clients()]
    elif request.method == "POST":
        flash(_("Choose an API client, say what the token is for and give 1-730 days."),
              "error")
    page = paginate(select(ApiToken), {"created_at": ApiToken.created_at,
                                       "expires_at": ApiToken.expires_at,
                                       "last_used_at": ApiToken.last_used_at},
                    default_sort="created_at")
    response = make_response(render_template(
        "admin/tokens.html", form=form, page=page, new_token=new_token, now=utcnow()))
    if new_token:
        response.headers["Cache-Control"] = "no-store"
    return response


@bp.route("/tokens/<int:token_id>/revoke", methods=["GET", "POST"])
@requires("tokens.manage")
def revoke_token(token_id: int) -> str | Response:
    token = db.session.get(ApiToken, token_id)
    if token is None:
        raise NotFound(f"API token {token_id} does not exist.")
    form = ConfirmReasonForm()
    if form.validate_on_submit():
        try:
            identity.revoke_token(security.user(), token, form.reason.data or "")
        except GxpError as refused:
            _refused(refused)
        else:
            db.session.commit()
            flash(_("Token {prefix}… revoked: it no longer opens the API.",
                    prefix=token.prefix), "info")
        return redirect(url_for("admin.tokens"))
    return render_template("admin/revoke_token.html", token=token, form=form)
