"""Authentication on every route: the session user for pages, a bearer token for the API.

`requires(action)` guards a view with the engine's permission check; the engine services
check again, so a view that forgets cannot open a hole.
"""

from __future__ import annotations

import functools
import secrets
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, TypeVar
from urllib.parse import urlsplit

from flask import Flask, current_app, flash, g, redirect, request, session, url_for
from werkzeug.wrappers import Response

from engine.db import db, utcnow
from engine.errors import NotAuthenticated
from engine.identity import proofs
from engine.identity import service as identity
from engine.identity.models import User
from engine.identity.roles import allowed_roles
from web import settings_of

F = TypeVar("F", bound=Callable[..., Any])

#: Session key: a random id per log-in, to which signing proofs are bound.
SESSION_ID = "login_session"

#: Endpoints anyone may reach without logging in.
PUBLIC_ENDPOINTS = frozenset({"static", "core.healthz", "core.set_language", "auth.login",
                              "auth.second_factor", "auth.logout"})
#: Endpoints a logged-in user may reach before changing an expired password or enrolling 2FA.
GATE_ENDPOINTS = PUBLIC_ENDPOINTS | {"auth.change_password", "auth.enrol_totp"}


def policy() -> identity.Policy:
    s = settings_of(current_app)
    return identity.Policy(password_max_age_days=s.password_max_age_days,
                           lockout_attempts=s.lockout_attempts)


def current_user() -> User | None:
    return g.get("user")


def user() -> User:
    """The logged-in user (views behind authentication only)."""
    found = g.get("user")
    if found is None:
        raise NotAuthenticated("Log in first.")
    return found


def log_in(found: User) -> None:
    session.clear()
    session["user_id"] = found.id
    session[SESSION_ID] = secrets.token_urlsafe(24)  # what a signing proof is bound to
    session["seen"] = utcnow().isoformat()
    session.permanent = True
    if found.locale:
        session["locale"] = found.locale
    if found.timezone:
        session["timezone"] = found.timezone


def requires(action: str) -> Callable[[F], F]:
    def decorate(view: F) -> F:
        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            identity.require(user(), action)
            return view(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorate


def _authenticate_api() -> None:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise NotAuthenticated("Send an API token: 'Authorization: Bearer <token>'.")
    g.user = identity.authenticate_token(token.strip())
    db.session.commit()  # last_used_at


def _load_session_user() -> Response | None:
    user_id = session.get("user_id")
    if user_id is None:
        return None
    seen = session.get("seen")
    idle = timedelta(minutes=settings_of(current_app).session_idle_minutes)
    now = utcnow()
    if seen is None or now - datetime.fromisoformat(seen) > idle:
        session.clear()
        flash("Your session was idle too long; log in again.", "warning")
        return None
    loaded = identity.load_user(user_id)
    if loaded is None or not loaded.user.active or loaded.user.locked_at is not None:
        session.clear()
        return None
    session["seen"] = now.isoformat()
    g.user, g.mfa_required, g.unread = loaded.user, loaded.mfa_required, loaded.unread
    return None


def log_out() -> None:
    user_id, session_id = session.get("user_id"), session.get(SESSION_ID)
    if user_id is not None and session_id:
        proofs.forget(user_id, session_id)
    session.clear()


def _before_request() -> Response | None:
    endpoint = request.endpoint or ""
    g.login_session = proofs.current_session.set(session.get(SESSION_ID))
    if request.path.startswith("/api/"):
        if endpoint not in PUBLIC_ENDPOINTS:
            _authenticate_api()
        return None
    _load_session_user()
    found = g.get("user")
    if found is None:
        if endpoint in PUBLIC_ENDPOINTS or not endpoint:
            return None
        return redirect(url_for("auth.login", next=request.full_path))
    if endpoint in GATE_ENDPOINTS:
        return None
    if identity.password_expired(found, policy()):
        flash("Your password has expired: choose a new one.", "warning")
        return redirect(url_for("auth.change_password"))
    if not found.totp_enabled and g.mfa_required:
        flash("Your role requires two-factor log-in: set it up now.", "warning")
        return redirect(url_for("auth.enrol_totp"))
    return None


def _teardown_request(_error: BaseException | None) -> None:
    token = g.pop("login_session", None)
    if token is not None:
        proofs.current_session.reset(token)


def init_app(app: Flask) -> None:
    app.before_request(_before_request)
    app.teardown_request(_teardown_request)

    @app.context_processor
    def _inject() -> dict[str, Any]:
        return {"current_user": g.get("user"), "can": can, "unread_count": unread_count}


def can(action: str) -> bool:
    """Whether the current user may do `action` (roles computed once per request)."""
    found = g.get("user")
    if found is None:
        return False
    if "roles" not in g:
        g.roles = identity.effective_roles(found)
    return bool(g.roles & allowed_roles(action))


def unread_count() -> int:
    from sqlalchemy import func, select

    from engine.identity.models import Notification

    found = g.get("user")
    if found is None:
        return 0
    if "unread" in g:  # read with the user at the start of the request
        return int(g.unread)
    return int(db.session.scalar(
        select(func.count()).select_from(Notification)
        .where(Notification.user_id == found.id, Notification.read_at.is_(None))
    ) or 0)


def local_target(target: str | None, default: str) -> str:
    """Where to go back to after a form: `target` only if it is a path on this site.

    A `next` value comes from the client. "//host", "/\\host" (browsers read the backslash as
    a slash) and anything with a scheme or host would send the user to another site with our
    session's trust (an open redirect)."""
    if (not target or not target.startswith("/") or "\\" in target
            or any(ord(char) < 32 for char in target)):
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return default
    return target
