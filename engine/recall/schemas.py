"""The body of a recall request, shared by the REST API and the task-queue message."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from engine.errors import InvalidInput
from engine.recall import service as recalls

#: The spellings of a level the API documents (each is read by recalls.normalise_level).
LEVELS = ["I", "II", "III", "1", "2", "3", "class I", "class II", "class III",
          "一级", "二级", "三级"]


_NOT_BLANK = validate.Regexp(r"\S", error="Must not be blank.")


class RecallRequestSchema(Schema):
    product = fields.String(required=True, validate=validate.Length(min=1, max=60),
                            metadata={"description": "Product code or GTIN",
                                      "example": "05012345678900"})
    lots = fields.List(fields.String(validate=[validate.Length(min=1, max=60), _NOT_BLANK]),
                       load_default=list, validate=validate.Length(max=500))
    serials = fields.List(fields.String(validate=[validate.Length(min=1, max=80), _NOT_BLANK]),
                          load_default=list, validate=validate.Length(max=10000))
    level = fields.String(required=True, metadata={
        "description": "I, II or III; 一级, 二级, 三级; class I, class II, class III",
        "enum": LEVELS})
    reason = fields.String(required=True, validate=validate.Length(min=3, max=4000))
    source = fields.String(required=True, validate=validate.Length(min=2, max=200), metadata={
        "description": "Who asked: the manufacturer's notice number, the authority, ..."})
    idempotency_key = fields.String(validate=validate.Length(min=8, max=200), metadata={
        "description": "Or the Idempotency-Key header; the same key starts one recall"})

    #: What `_lots_or_serials` demands, for the OpenAPI document (web.api merges it).
    OPENAPI_EXTRA = {"anyOf": [
        {"required": ["lots"], "properties": {"lots": {"minItems": 1}}},
        {"required": ["serials"], "properties": {"serials": {"minItems": 1}}}]}

    @validates_schema
    def _lots_or_serials(self, data: dict[str, Any], **_: Any) -> None:
        if not data.get("lots") and not data.get("serials"):
            raise ValidationError("Give at least one lot or serial number.", "lots")
        try:
            recalls.normalise_level(data.get("level", ""))
        except InvalidInput as error:
            raise ValidationError(error.fields["level"], "level") from None


def request_hash(data: dict[str, Any]) -> str:
    """SHA-256 of a loaded recall request as canonical JSON (sorted keys, the idempotency key
    left out): what an idempotency key is bound to, so the key cannot start another recall."""
    body = {name: value for name, value in data.items() if name != "idempotency_key"}
    canonical = json.dumps(body, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()
