"""POST /api/v1/recalls and reading recalls back: how a manufacturer's portal or an ERP starts a
recall. An Idempotency-Key makes a retried call start one recall, never two; the same key with
another body is refused (422), as is a lot or serial already under an open recall (409)."""

from __future__ import annotations

import re
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
from engine.recall.schemas import RecallRequestSchema, request_hash
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


HEADER = "Idempotency-Key"
#: A key is 1 to 200 printable ASCII characters (200: the width of the stored key).
_KEY = re.compile(r"[\x20-\x7e]{1,200}")
_KEY_RULE = "1 to 200 printable ASCII characters (a UUID is a good key)"


def _header_key() -> str | None:
    header = request.headers.get(HEADER)
    if header is not None and not (_KEY.fullmatch(header) and header.strip()):
        raise InvalidInput(f"The {HEADER} header must be {_KEY_RULE}.",
                           fields={HEADER: f"Must be {_KEY_RULE}."})
    return None if header is None else header.strip()


def _idempotency_key(header: str | None, data: dict[str, Any]) -> tuple[str, str]:
    """The request's idempotency key and the name it came under (the header or the body
    field), to name it in a refusal."""
    in_body = data.get("idempotency_key")
    if in_body is not None and not (_KEY.fullmatch(in_body) and in_body.strip()):
        raise InvalidInput(f"The idempotency_key must be {_KEY_RULE}.",
                           fields={"idempotency_key": f"Must be {_KEY_RULE}."})
    if header is None:
        if not in_body:
            raise InvalidInput(
                "An idempotency key is required so a retried call starts one recall.",
                fields={HEADER: "Send the header (or idempotency_key)."})
        return in_body.strip(), "idempotency_key"
    if in_body is not None and in_body.strip() != header:
        raise InvalidInput(f"The {HEADER} header and the body's idempotency_key differ: "
                           "send one key.", fields={HEADER: "Differs from idempotency_key."})
    return header, HEADER


@bp.post("/recalls")
def start_recall() -> tuple[Response, int]:
    """Start a recall: every affected unit is held at once, every customer notified."""
    header = _header_key()
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise InvalidInput("Send a JSON object.", fields={"_": "The body is not a JSON object."})
    data = RecallRequestSchema().load(body)
    key, key_field = _idempotency_key(header, data)
    user = security.user()
    identity.require(user, "recalls.start")
    product = masterdata.find_product(data["product"])
    if product is None:
        raise InvalidInput(f"No product with code or GTIN {data['product']!r}.",
                           fields={"product": "Unknown product."})
    try:
        recall, created = recalls.start(
            user, product=product, lots=data["lots"], serials=data["serials"],
            level=data["level"], reason=data["reason"], source=data["source"],
            idempotency_key=key, request_hash=request_hash(data))
    except recalls.KeyReused as error:  # name the key as this caller sent it
        raise InvalidInput(error.message, code=error.code,
                           fields={key_field: recalls.KEY_REUSED}) from None
    answer = _dump(recall)  # before the commit: once it lands, the workers start sending
    db.session.commit()
    response = jsonify(answer)
    response.headers["Location"] = url_for("api.get_recall", number=recall.number)
    if not created:
        response.headers["Idempotent-Replayed"] = "true"
    return response, 201 if created else 200


@bp.get("/recalls/<number>")
def get_recall(number: str) -> Response:
    """A recall's state: staff read every recall, an API client the ones it started (another
    client's recall is not found, so its numbers tell nothing)."""
    user = security.user()
    staff = identity.can(user, "recalls.view")
    if not staff:
        identity.require(user, "recalls.start")
    recall = db.session.scalar(select(Recall).where(Recall.number == number))
    if recall is None or not (staff or recall.started_by == user.id):
        raise NotFound(f"No recall {number}.")
    return jsonify(_dump(recall))


document("/recalls", "post", "Start a recall (Idempotency-Key header required)", RecallSchema,
         request=RecallRequestSchema, permission="recalls.start",
         success={201: "The recall started: its stock is held and its customers are listed",
                  200: "The same Idempotency-Key with the same body came before: the recall "
                       "it started (header `Idempotent-Replayed: true`)"},
         response_headers={201: {"Location": "The recall's URL"},
                           200: {"Location": "The recall's URL",
                                 "Idempotent-Replayed": "`true`"}},
         errors={409: "A lot or serial named is already under an open recall (code "
                      "`already_recalled`): `message` and `fields` name it and the recall",
                 422: "Invalid body or idempotency key: `fields` names each bad field. The "
                      "header `Idempotency-Key` is missing or not 1-200 printable ASCII "
                      "characters, or (code `idempotency_key_reused`) "
                      f"{recalls.KEY_REUSED}"},
         headers=({"name": HEADER, "required": False,
                   "description": "Required unless the body carries idempotency_key: the same "
                                  "key with the same body starts one recall",
                   "schema": {"type": "string", "minLength": 1, "maxLength": 200,
                              "pattern": "^[\\x20-\\x7E]+$"}},))
document("/recalls/{number}", "get", "A recall's state: held units, customers notified",
         RecallSchema, permission="recalls.view (an API client: recalls.start, its own)",
         errors={404: "No recall with this number (for an API client: none it started)"})
