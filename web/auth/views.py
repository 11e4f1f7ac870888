"""Views of the auth blueprint."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, session, url_for
from werkzeug.wrappers import Response

from engine.db import db, utcnow
from engine.errors import GxpError, InvalidInput, NotAuthenticated
from engine.identity import service as identity
from engine.identity.models import User
from web import security
from web.auth import bp
from web.auth.forms import ChangePasswordForm, CodeForm, EmptyForm, LoginForm, PreferencesForm
from web.i18n import get_locale, get_timezone, refusal
from web.i18n import translate as _


def _safe_next(default: str) -> str:
    target = security.local_target(request.args.get("next"), default)
    return default if "auth/" in target else target


@bp.route("/login", methods=["GET", "POST"])
def login() -> tuple[str, int] | Response:
    form = LoginForm()
    error = None
    if form.validate_on_submit():
        try:
            found = identity.authenticate(form.username.data or "", form.password.data or "",
                                          security.policy())
        except NotAuthenticated as refused:
            db.session.commit()  # the failed attempt and any lock-out are evidence
            error = refusal(refused)
        else:
            db.session.commit()
            if found.totp_enabled:
                session.clear()
                session["pending_user_id"] = found.id
                return redirect(url_for("auth.second_factor", next=_safe_next("")))
            security.log_in(found)
            return redirect(_safe_next(url_for("core.home")))
    return render_template("auth/login.html", form=form, error=error), 401 if error else 200


@bp.route("/second-factor", methods=["GET", "POST"])
def second_factor() -> str | Response:
    pending = session.get("pending_user_id")
    found = db.session.get(User, pending) if pending else None
    if found is None:
        return redirect(url_for("auth.login"))
    form = CodeForm()
    error = None
    if form.validate_on_submit():
        try:
            identity.verify_second_factor(found, form.code.data or "", security.policy())
        except NotAuthenticated as refused:
            db.session.commit()
            error = refusal(refused)
        else:
            db.session.commit()
            security.log_in(found)
            return redirect(_safe_next(url_for("core.home")))
    return render_template("auth/second_factor.html", form=form, error=error)


@bp.post("/logout")
def logout() -> Response:
    EmptyForm().validate_on_submit()
    security.log_out()
    flash(_("You are logged out."), "info")
    return redirect(url_for("auth.login"))


@bp.route("/password", methods=["GET", "POST"])
def change_password() -> str | Response:
    form = ChangePasswordForm()
    errors: dict[str, str] = {}
    if form.validate_on_submit():
        if form.new_password.data != form.confirm.data:
            errors["confirm"] = _("The two new passwords differ.")
        else:
            try:
                identity.change_password(security.user(), form.current_password.data or "",
                                         form.new_password.data or "", security.policy())
            except InvalidInput as refused:
                db.session.commit()
                errors.update({k: str(v) for k, v in refused.fields.items()})
            else:
                db.session.commit()
                flash(_("Your password was changed."), "info")
                return redirect(url_for("core.home"))
    return render_template("auth/change_password.html", form=form, errors=errors)


@bp.route("/two-factor", methods=["GET", "POST"])
def enrol_totp() -> str | Response:
    me = security.user()
    form = CodeForm()
    if not request.form.get("restart") and form.validate_on_submit():
        try:
            codes = identity.confirm_totp_enrolment(me, form.code.data or "")
        except GxpError as refused:
            db.session.rollback()
            flash(refusal(refused), "error")
        else:
            db.session.commit()
            return render_template("auth/recovery_codes.html", codes=codes)
    if request.method == "POST" and request.form.get("restart") and form.validate():
        try:
            identity.restart_totp_enrolment(me, request.form.get("password", ""),
                                            security.policy())
        except NotAuthenticated as refused:
            db.session.commit()  # the failed attempt is evidence (lock-out)
            flash(refusal(refused), "error")
        else:
            db.session.commit()
    if me.totp_enabled:
        return render_template("auth/totp_on.html", form=EmptyForm())
    if not me.totp_secret:
        identity.start_totp_enrolment(me)
        db.session.commit()
    uri = identity.totp_uri(me)
    return render_template("auth/enrol_totp.html", form=form, qr=identity.qr_svg(uri),
                           secret=me.totp_secret)


@bp.route("/preferences", methods=["GET", "POST"])
def preferences() -> tuple[str, int] | Response:
    """The logged-in user's time zone and language; the next page already uses them."""
    me = security.user()
    form = PreferencesForm(timezone=me.timezone or get_timezone().key,
                           locale=me.locale or get_locale())
    errors: dict[str, str] = {}
    if form.validate_on_submit():
        try:
            identity.set_preferences(me, me, form.timezone.data or "", form.locale.data or "")
        except GxpError as refused:
            db.session.rollback()
            errors = {name: _("{field}: {reason}", field=_(form[name].label.text),
                              reason=_(str(reason)))
                      for name, reason in refused.fields.items() if name in form}
            flash(" ".join([refusal(refused), *errors.values()]), "error")
        else:
            db.session.commit()
            session["timezone"], session["locale"] = me.timezone, me.locale
            flash("Your preferences were saved.", "info")  # shown in the language just chosen
            return redirect(url_for("auth.preferences"))
    status = 422 if errors else 200
    return render_template("auth/preferences.html", form=form, errors=errors,
                           now=utcnow(), zone=get_timezone().key), status
