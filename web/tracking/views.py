"""Views of the device tracking pages."""

from __future__ import annotations

from typing import Any

from flask import flash, redirect, render_template, request, url_for
from sqlalchemy import or_, select
from werkzeug.wrappers import Response

from engine.db import db
from engine.errors import GxpError, InvalidInput
from engine.masterdata.models import Product
from engine.recall import channels
from engine.tracking import service as tracking
from engine.tracking.models import STATES, TrackingNotice
from web import security
from web.auth.forms import EmptyForm
from web.i18n import refusal
from web.i18n import translate as _
from web.paging import paginate
from web.security import requires
from web.tracking import bp

#: How a report's state, or a delivery's status, reads on the pages.
LABELS = {"pending": "waiting to be sent", "sent": "sent", "failed": "delivery failed",
          "no_channel": "no channel"}


@bp.get("/")
@requires("tracking.view")
def index() -> str:
    query: Any = (select(TrackingNotice, tracking.state().label("state"))
             .join(Product, Product.id == TrackingNotice.product_id))
    q = request.args.get("q", "").strip()
    if q:
        like = f"%{q}%"
        query = query.where(or_(Product.code.ilike(like), Product.gtin.ilike(like),
                                Product.name_en.ilike(like), Product.name_zh.ilike(like),
                                TrackingNotice.lot.ilike(like)))
    status = request.args.get("status", "")
    if status in STATES:
        query = query.where(tracking.state() == status)
    page = paginate(query, {"created": TrackingNotice.id, "due": TrackingNotice.due_at,
                            "lot": TrackingNotice.lot}, "created", scalars=False)
    return render_template("tracking/index.html", page=page, q=q, status=status,
                           states=STATES, labels=LABELS)


@bp.get("/<int:notice_id>")
@requires("tracking.view")
def show(notice_id: int) -> str:
    return _show(tracking.get(notice_id))


def _show(notice: TrackingNotice, values: dict[str, str] | None = None,
          errors: dict[str, str] | None = None) -> str:
    return render_template(
        "tracking/show.html", notice=notice, state=tracking.state_of(notice),
        deliveries=tracking.deliveries(notice),
        text=channels.tracking_text(tracking.report(notice)),
        resendable=tracking.RESENDABLE, form=EmptyForm(), labels=LABELS,
        elsewhere=tracking.ELSEWHERE, values=values or {}, errors=errors or {})


@bp.post("/<int:notice_id>/sent-elsewhere")
@requires("tracking.send")
def sent_elsewhere(notice_id: int) -> Response | tuple[str, int]:
    """A quality manager records that the report went out by other means."""
    notice = tracking.get(notice_id)
    reference = notice.reference
    if not EmptyForm().validate_on_submit():
        flash(_("The form expired; open the page and try again."), "error")
        return redirect(url_for("tracking.show", notice_id=notice_id))
    how, note = request.form.get("how", ""), request.form.get("note", "")
    try:
        tracking.record_sent_elsewhere(security.user(), notice, how, note)
    except InvalidInput as invalid:
        db.session.rollback()
        return _show(tracking.get(notice_id), {"how": how, "note": note},
                     {name: _(text) for name, text in invalid.fields.items()}), 422
    except GxpError as error:
        db.session.rollback()
        flash(refusal(error), "error")
        return redirect(url_for("tracking.show", notice_id=notice_id))
    db.session.commit()
    flash(_("Tracking report {reference} is recorded as sent by other means.",
            reference=reference), "success")
    return redirect(url_for("tracking.show", notice_id=notice_id))


@bp.post("/<int:notice_id>/send")
@requires("tracking.send")
def send_again(notice_id: int) -> Response:
    notice = tracking.get(notice_id)
    reference = notice.reference
    if not EmptyForm().validate_on_submit():
        flash(_("The form expired; open the page and try again."), "error")
        return redirect(url_for("tracking.show", notice_id=notice_id))
    try:
        tracking.send_again(security.user(), notice)
        db.session.commit()
        flash(_("Tracking report {reference} is being sent again.", reference=reference),
              "success")
    except GxpError as error:
        db.session.rollback()
        flash(refusal(error), "error")
    return redirect(url_for("tracking.show", notice_id=notice_id))
