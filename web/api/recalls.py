"""POST /api/v1/recalls and reading recalls back: how a manufacturer's portal or an ERP starts a
recall. An Idempotency-Key makes a retried call start one recall, never two."""

from __future__ import annotations

from typing import Any

from flask import jsonify, request, url_for
from marshmallow import Schema, fields
from sqlalchemy import select
from werkzeug.wrappers import Response

from engine.db import db
from engine.errors import InvalidInput, NotFound
from engine.identity import service as identity
from engine.masterdata import service as masterdata
from engine.recall import service as recalls
from engine.recall.models import Recall
from engine.recall.schemas import RecallRequestSchema
from web import security
from web.api import bp, document


class RecallSchema(Schema):
    number = fields.String()
    status = fields.String()
    product = fields.String(attribute="product.code")
    gtin = fields.String(attribute="product.gtin")
    lots = fields.List(fields.String(), attribute="lot_list")
    serials = fields.List(fields.String(), attribute="serial_list")
    level = fields.String()
    reason = fields.String()
    source = fields.String()
    started_at = fields.DateTime()
    held_units = fields.Integer()
    deadline_hours = fields.Integer(allow_none=True)
    notify_due_at = fields.DateTime(allow_none=True)
    customers = fields.Integer()
    notified = fields.Integer()
    acknowledged = fields.Integer()
    closed_at = fields.DateTime(allow_none=True)
    url = fields.String()


def _dump(recall: Recall) -> dict[str, Any]:
    summary = recalls.counts(recall)
    data: dict[str, Any] = RecallSchema().dump(recall)
    data.update(customers=summary.customers, notified=summary.notified,
                acknowledged=summary.acknowledged,
                url=url_for("api.get_recall", number=recall.number, _external=True))
    return data


@bp.post("/recalls")
def start_recall() -> tuple[Response, int]:
    """Start a recall: every affected unit is held at once, every customer notified."""
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise InvalidInput("Send a JSON object.", fields={"_": "The body is not a JSON object."})
    data = RecallRequestSchema().load(body)
    key = request.headers.get("Idempotency-Key") or data.get("idempotency_key")
    if not key:
        raise InvalidInput("An idempotency key is required so a retried call starts one recall.",
                           fields={"Idempotency-Key": "Send the header (or idempotency_key)."})
    user = security.user()
    identity.require(user, "recalls.start")
    product = masterdata.find_product(data["product"])
    if product is None:
        raise InvalidInput(f"No product with code or GTIN {data['product']!r}.",
                           fields={"product": "Unknown product."})
    recall, created = recalls.start(
        user, product=product, lots=data["lots"], serials=data["serials"],
        level=data["level"], reason=data["reason"], source=data["source"],
        idempotency_key=key)
    answer = _dump(recall)  # before the commit: once it lands, the workers start sending
    db.session.commit()
    response = jsonify(answer)
    response.headers["Location"] = url_for("api.get_recall", number=recall.number)
    if not created:
        response.headers["Idempotent-Replayed"] = "true"
    return response, 201 if created else 200


@bp.get("/recalls/<number>")
def get_recall(number: str) -> Response:
    identity.require(security.user(), "recalls.view")
    recall = db.session.scalar(select(Recall).where(Recall.number == number))
    if recall is None:
        raise NotFound(f"No recall {number}.")
    return jsonify(_dump(recall))


document("/recalls", "post", "Start a recall (Idempotency-Key header required)", RecallSchema,
         request=RecallRequestSchema, permission="recalls.start")
document("/recalls/{number}", "get", "A recall's state: held units, customers notified",
         RecallSchema, permission="recalls.view")
