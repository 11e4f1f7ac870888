"""The REST API under /api/v1: bearer-token authentication, marshmallow schemas, OpenAPI.

Other systems (ERP, a manufacturer's portal) start recalls and read state through it.
Each feature adds its endpoints to `bp` and its schemas to the OpenAPI document.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin, resolver
from flask import Blueprint, Flask, jsonify, request
from marshmallow import Schema, fields
from werkzeug.wrappers import Response

from web import security
from web.extensions import csrf

bp = Blueprint("api", __name__, url_prefix="/api/v1")
csrf.exempt(bp)

#: The challenge a 401 carries (RFC 6750): the API takes bearer tokens.
CHALLENGE = 'Bearer realm="GxPFlow API"'


@bp.after_app_request
def _challenge(response: Response) -> Response:
    """Every 401 under /api/ names the scheme to authenticate with (also when no route matched,
    hence app-wide)."""
    if response.status_code == 401 and request.path.startswith("/api/") \
            and "WWW-Authenticate" not in response.headers:
        sent = bool(request.headers.get("Authorization"))
        response.headers["WWW-Authenticate"] = (
            CHALLENGE + (', error="invalid_token"' if sent else ""))
    return response


@dataclass(frozen=True)
class Endpoint:
    """What the OpenAPI document says of one endpoint."""

    path: str
    method: str
    summary: str
    response: type[Schema]
    request: type[Schema] | None = None
    permission: str | None = None
    #: status -> description, for the answers that carry `response`.
    success: Mapping[int, str] = field(default_factory=lambda: {200: "OK"})
    #: Error answers besides 401 (always), 403 (with a permission) and 422 (with a body),
    #: or other descriptions for those.
    errors: Mapping[int, str] = field(default_factory=dict)
    #: status -> response header -> description.
    response_headers: Mapping[int, Mapping[str, str]] = field(default_factory=dict)
    #: Request headers (OpenAPI parameter objects, `in: header`).
    headers: tuple[Mapping[str, Any], ...] = ()
    #: Path parameter -> the pattern (a regular expression) its value must match.
    path_patterns: Mapping[str, str] = field(default_factory=dict)


ENDPOINTS: list[Endpoint] = []

#: The default description of each error status.
ERRORS: Final[Mapping[int, str]] = {
    401: "No valid token; the answer carries `WWW-Authenticate: Bearer`",
    403: "The token's user lacks the permission",
    404: "Not found",
    409: "In conflict with the current state",
    422: "Invalid body: `fields` names each bad field",
}


def document(path: str, method: str, summary: str, response: type[Schema],
             request: type[Schema] | None = None, permission: str | None = None,
             **more: Any) -> None:
    """Describe an endpoint in the OpenAPI document (`more`: the other `Endpoint` fields)."""
    ENDPOINTS.append(Endpoint(path, method, summary, response, request, permission, **more))


class ErrorSchema(Schema):
    code = fields.String(required=True, metadata={"example": "invalid"})
    message = fields.String(required=True)
    field_reasons = fields.Dict(data_key="fields", metadata={"description": "field -> reason"})


class ErrorResponseSchema(Schema):
    """Every error answer: `{"error": {code, message, fields}}`."""

    error = fields.Nested(ErrorSchema, required=True)


class MeSchema(Schema):
    username = fields.String(required=True)
    full_name = fields.String(required=True)
    roles = fields.List(fields.String(), required=True)


@bp.get("/me")
def me() -> Response:
    """Who the token belongs to: lets an integrator check its token works."""
    from engine.identity import service as identity

    user = security.user()
    return jsonify(MeSchema().dump({"username": user.username, "full_name": user.full_name,
                                    "roles": sorted(identity.effective_roles(user))}))


document("/me", "get", "The API client the token belongs to", MeSchema)


def _operation(endpoint: Endpoint) -> dict[str, Any]:
    responses: dict[str, Any] = {}
    for status, description in sorted(endpoint.success.items()):
        answer: dict[str, Any] = {"description": description, "content": {
            "application/json": {"schema": endpoint.response}}}
        if status in endpoint.response_headers:
            answer["headers"] = {name: {"description": text, "schema": {"type": "string"}}
                                 for name, text in endpoint.response_headers[status].items()}
        responses[str(status)] = answer
    errors = {401: ERRORS[401]}
    if endpoint.permission:
        errors[403] = ERRORS[403]
    if endpoint.request is not None:
        errors[422] = ERRORS[422]
    errors |= {status: text or ERRORS.get(status, "") for status, text in endpoint.errors.items()}
    for status, description in sorted(errors.items()):
        responses[str(status)] = {"description": description, "content": {
            "application/json": {"schema": "ErrorResponse"}}}
    responses["401"]["headers"] = {"WWW-Authenticate": {
        "description": CHALLENGE, "schema": {"type": "string"}}}
    parameters: list[Any] = [
        {"name": name, "in": "path", "required": True, "schema": {"type": "string"} | (
            {"pattern": endpoint.path_patterns[name]} if name in endpoint.path_patterns else {})}
        for name in re.findall(r"{(\w+)}", endpoint.path)]
    parameters += [dict(header, **{"in": "header"}) for header in endpoint.headers]
    operation: dict[str, Any] = {"summary": endpoint.summary, "security": [{"bearer": []}],
                                 "responses": responses}
    if parameters:
        operation["parameters"] = parameters
    if endpoint.permission:
        operation["description"] = f"Needs the permission `{endpoint.permission}`."
    if endpoint.request is not None:
        operation["requestBody"] = {"required": True, "content": {"application/json": {
            "schema": endpoint.request}}}
    return operation


def openapi_spec(app: Flask) -> dict[str, Any]:
    description = (
        "Authenticate with 'Authorization: Bearer <token>'. "
        'Errors come back as {"error": {code, message, fields}}.'
    )
    spec = APISpec(title="GxPFlow API", version="1", openapi_version="3.0.3",
                   plugins=[MarshmallowPlugin()], info={"description": description})
    spec.components.security_scheme("bearer", {"type": "http", "scheme": "bearer"})
    spec.components.schema("Error", schema=ErrorSchema)
    spec.components.schema("ErrorResponse", schema=ErrorResponseSchema)
    operations: dict[str, dict[str, Any]] = {}
    for endpoint in ENDPOINTS:
        operations.setdefault(endpoint.path, {})[endpoint.method] = _operation(endpoint)
    for path, by_method in operations.items():
        spec.path(path="/api/v1" + path, operations=by_method)
    document = spec.to_dict()
    # What a schema checks across its fields (marshmallow's @validates_schema) the plugin
    # cannot see: a schema states it as `OPENAPI_EXTRA`, merged into its component.
    for endpoint in ENDPOINTS:
        for schema in (endpoint.request, endpoint.response):
            extra = getattr(schema, "OPENAPI_EXTRA", None)
            if schema is not None and extra:
                name = resolver(schema)
                document["components"]["schemas"][name].update(extra)
    return document


@bp.get("/openapi.json")
def openapi() -> Response:
    from flask import current_app

    return jsonify(openapi_spec(current_app))


from web.api import processes as _processes  # noqa: E402,F401
from web.api import recalls as _recalls  # noqa: E402,F401  (registers its endpoints on bp)
