"""The REST API under /api/v1: bearer-token authentication, marshmallow schemas, OpenAPI.

Other systems (ERP, a manufacturer's portal) start recalls and read state through it.
Each feature adds its endpoints to `bp` and its schemas to the OpenAPI document.
"""

from __future__ import annotations

from typing import Any

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from flask import Blueprint, Flask, jsonify
from marshmallow import Schema, fields
from werkzeug.wrappers import Response

from web import security
from web.extensions import csrf

bp = Blueprint("api", __name__, url_prefix="/api/v1")
csrf.exempt(bp)

#: (path, method, summary, request schema or None, response schema, permission)
ENDPOINTS: list[tuple[str, str, str, type[Schema] | None, type[Schema], str | None]] = []


def document(path: str, method: str, summary: str, response: type[Schema],
             request: type[Schema] | None = None, permission: str | None = None) -> None:
    """Describe an endpoint in the OpenAPI document."""
    ENDPOINTS.append((path, method, summary, request, response, permission))


class ErrorSchema(Schema):
    code = fields.String(required=True, metadata={"example": "invalid"})
    message = fields.String(required=True)
    field_reasons = fields.Dict(data_key="fields", metadata={"description": "field -> reason"})


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


def openapi_spec(app: Flask) -> dict[str, Any]:
    description = (
        "Authenticate with 'Authorization: Bearer <token>'. "
        'Errors come back as {"error": {code, message, fields}}.'
    )
    spec = APISpec(title="GxPFlow API", version="1", openapi_version="3.0.3",
                   plugins=[MarshmallowPlugin()], info={"description": description})
    spec.components.security_scheme("bearer", {"type": "http", "scheme": "bearer"})
    spec.components.schema("Error", schema=ErrorSchema)
    for path, method, summary, request_schema, response_schema, permission in ENDPOINTS:
        operation: dict[str, Any] = {
            "summary": summary,
            "security": [{"bearer": []}],
            "responses": {
                "200": {"description": "OK", "content": {"application/json": {
                    "schema": response_schema}}},
                "401": {"description": "No valid token", "content": {"application/json": {
                    "schema": "Error"}}},
                "422": {"description": "Invalid body: `fields` names each bad field",
                        "content": {"application/json": {"schema": "Error"}}},
            },
        }
        if permission:
            operation["description"] = f"Needs the permission `{permission}`."
        if request_schema is not None:
            operation["requestBody"] = {"required": True, "content": {"application/json": {
                "schema": request_schema}}}
        spec.path(path="/api/v1" + path, operations={method: operation})
    return spec.to_dict()


@bp.get("/openapi.json")
def openapi() -> Response:
    from flask import current_app

    return jsonify(openapi_spec(current_app))


from web.api import processes as _processes  # noqa: E402,F401
from web.api import recalls as _recalls  # noqa: E402,F401  (registers its endpoints on bp)
