"""Views of the core blueprint."""

from __future__ import annotations

from typing import Any

from flask import current_app, jsonify, redirect, render_template, request, session, url_for
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.wrappers import Response

from engine import db as database
from engine.config import LOCALES
from engine.db import db
from web.auth.forms import EmptyForm
from web.core import bp
from web.extensions import broker_status
from web.i18n import get_locale


def system_status() -> dict[str, Any]:
    try:
        db_status: dict[str, Any] = database.ping()
    except SQLAlchemyError as exc:
        db.session.rollback()
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        db_status = {"ok": False, "error": reason}
    broker = broker_status(current_app.extensions["celery"])
    return {"database": db_status, "broker": broker}


@bp.get("/healthz")
def healthz() -> tuple[Response, int]:
    status = system_status()
    ok = status["database"]["ok"] and status["broker"]["ok"]
    status["status"] = "ok" if ok else "degraded"
    return jsonify(status), 200 if status["database"]["ok"] else 503


@bp.get("/")
def home() -> str:
    """The inbox first (when its blueprint is registered), then the system status."""
    inbox: dict[str, Any] = {}
    if "inbox.index" in current_app.view_functions:
        from engine.identity import service as identity
        from web import security
        from web.inbox.views import inbox_page

        if identity.can(security.user(), "tasks.view"):
            inbox = inbox_page()
    return render_template("core/home.html", status=system_status(), **inbox)


@bp.get("/lang/<code>")
def set_language(code: str) -> Response:
    from web import security

    response = redirect(security.local_target(request.args.get("next"), url_for("core.home")))
    if code in LOCALES:
        if "locale" in session:  # a saved preference put it there at log-in: this wins now
            session["locale"] = code
        response.set_cookie(
            "gxpflow_locale", code, max_age=365 * 24 * 3600, samesite="Lax", httponly=True
        )
    return response


@bp.get("/notifications")
def notifications() -> str:
    from sqlalchemy import select

    from engine.identity.models import Notification
    from web import security
    from web.paging import paginate

    query = select(Notification).where(Notification.user_id == security.user().id)
    page = paginate(query, {"created_at": Notification.created_at}, "created_at")
    return render_template("core/notifications.html", page=page, form=EmptyForm(),
                           locale=get_locale())


@bp.post("/notifications/read")
def mark_notifications_read() -> Response:
    from sqlalchemy import update

    from engine.db import utcnow
    from engine.identity.models import Notification
    from web import security

    if EmptyForm().validate_on_submit():
        db.session.execute(
            update(Notification)
            .where(Notification.user_id == security.user().id, Notification.read_at.is_(None))
            .values(read_at=utcnow())
        )
        db.session.commit()
    return redirect(url_for("core.notifications"))
