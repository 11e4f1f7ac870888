"""Starting processes and sending messages from other systems: POST a start to a process, or a
message that reaches the instances waiting for it (by correlation) and starts the processes
whose start event catches it."""

from __future__ import annotations

import re
from typing import Any

from flask import jsonify, request
from marshmallow import Schema, fields, validate
from werkzeug.wrappers import Response

from engine.db import db
from engine.errors import InvalidInput
from engine.identity import service as identity
from engine.workflow.messages import start_by_message
from engine.workflow.models import ProcessInstance
from engine.workflow.runtime import current_runtime
from engine.workflow.store import active_definition, start_info
from web import security
from web.api import bp, document

_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]{0,119}")


class StartSchema(Schema):
    data = fields.Dict(keys=fields.String(), load_default=dict,
                       metadata={"description": "The process's start data (its start form)"})
    subject = fields.String(load_default="", validate=validate.Length(max=200))
    site = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=40),
                         metadata={"description": "Site code, e.g. SH"})


class MessageSchema(Schema):
    payload = fields.Dict(keys=fields.String(), load_default=dict)
    correlation = fields.String(load_default="", validate=validate.Length(max=200), metadata={
        "description": "Only instances waiting with this correlation value"})
    subject = fields.String(load_default="", validate=validate.Length(max=200))
    site = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=40))


class InstanceSchema(Schema):
    id = fields.Integer()
    process_key = fields.String()
    subject = fields.String()
    site_code = fields.String(allow_none=True)
    status = fields.String()
    started_at = fields.DateTime()


class MessageResultSchema(Schema):
    reached = fields.List(fields.Integer(), metadata={"description": "Waiting instances"})
    started = fields.List(fields.Nested(InstanceSchema))


def _body(schema: Schema) -> dict[str, Any]:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise InvalidInput("Send a JSON object.", fields={"_": "The body is not a JSON object."})
    loaded: dict[str, Any] = schema.load(body)
    return loaded


@bp.post("/processes/<key>/instances")
def start_instance(key: str) -> tuple[Response, int]:
    user = security.user()
    identity.require(user, "instances.start")
    if _KEY.fullmatch(key) is None:
        raise InvalidInput("Not a process key.", fields={"key": "Letters, digits, _ . -"})
    data = _body(StartSchema())
    definition = active_definition(key)
    assert definition is not None
    info = start_info(definition)
    if not info.startable:
        raise InvalidInput(f"{key} cannot be started directly: {info.reason}",
                           fields={"key": info.reason})
    start_data = dict(data["data"])
    if info.form is not None:
        start_data = info.form.validate(start_data)
    instance = current_runtime().start(user, key, start_data, subject=data["subject"],
                                       site_code=data["site"])
    db.session.commit()
    return jsonify(InstanceSchema().dump(instance)), 201


@bp.post("/messages/<name>")
def send_message(name: str) -> Response:
    user = security.user()
    identity.require(user, "instances.start")
    if _KEY.fullmatch(name) is None:
        raise InvalidInput("Not a message name.", fields={"name": "Letters, digits, _ . -"})
    data = _body(MessageSchema())
    runtime = current_runtime()
    reached = runtime.deliver_message(user, name, data["payload"],
                                      correlation=data["correlation"])
    started: list[ProcessInstance] = []
    if not data["correlation"]:
        started = start_by_message(user, name, data["payload"], subject=data["subject"],
                                   site_code=data["site"])
    db.session.commit()
    return jsonify(MessageResultSchema().dump({"reached": reached, "started": started}))


document("/processes/{key}/instances", "post", "Start an instance of a process",
         InstanceSchema, request=StartSchema, permission="instances.start",
         success={201: "The instance started"},
         errors={404: "No active version of the process is deployed"},
         path_patterns={"key": f"^{_KEY.pattern}$"})
document("/messages/{name}", "post",
         "Send a message: to instances waiting for it, and starting processes it starts",
         MessageResultSchema, request=MessageSchema, permission="instances.start",
         path_patterns={"name": f"^{_KEY.pattern}$"})
