"""The API answers token holders only, in JSON, and documents itself in OpenAPI."""

from __future__ import annotations

from typing import Any

from flask import Flask
from flask.testing import FlaskClient

from engine import audit
from engine.db import db
from engine.identity import service as identity


def make_token(app: Flask, make_user: Any, username: str = "erp") -> str:
    make_user(username, "api_client")
    with app.app_context():
        plain = identity.create_token(audit.SYSTEM, identity.find_user(username), "test")
        db.session.commit()
    return plain


def test_me_names_the_token_user(app: Flask, client: FlaskClient, make_user: Any) -> None:
    token = make_token(app, make_user)
    response = client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200
    assert response.get_json() == {"username": "erp", "full_name": "Erp", "roles": ["api_client"]}


def test_openapi_document_lists_the_endpoints(
    app: Flask, client: FlaskClient, make_user: Any
) -> None:
    token = make_token(app, make_user)
    assert client.get("/api/v1/openapi.json").status_code == 401
    spec = client.get("/api/v1/openapi.json", headers={"Authorization": f"Bearer {token}"})
    body = spec.get_json()
    assert body["openapi"].startswith("3.")
    assert "/api/v1/me" in body["paths"]
    assert body["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"


def test_a_session_cookie_does_not_open_the_api(client: FlaskClient, make_user: Any) -> None:
    from tests.support.web import login

    make_user("staff", "auditor")
    login(client, "staff")
    assert client.get("/api/v1/me").status_code == 401


def test_a_401_names_the_bearer_scheme(app: Flask, client: FlaskClient, make_user: Any) -> None:
    make_token(app, make_user)
    for path in ("/api/v1/me", "/api/v1/recalls/RC-2026-00001", "/api/v1/nowhere"):
        anonymous = client.get(path)
        assert anonymous.status_code == 401
        assert anonymous.headers["WWW-Authenticate"] == 'Bearer realm="GxPFlow API"'
    wrong = client.post("/api/v1/recalls", json={},
                        headers={"Authorization": "Bearer gxp_wrong"})
    assert wrong.status_code == 401
    assert wrong.headers["WWW-Authenticate"] == (
        'Bearer realm="GxPFlow API", error="invalid_token"')
    assert wrong.get_json()["error"]["code"] == "unauthenticated"


def test_openapi_document_names_the_answers_the_recall_api_gives(
    app: Flask, client: FlaskClient, make_user: Any
) -> None:
    token = make_token(app, make_user)
    paths = client.get("/api/v1/openapi.json",
                       headers={"Authorization": f"Bearer {token}"}).get_json()["paths"]
    start = paths["/api/v1/recalls"]["post"]
    assert set(start["responses"]) == {"200", "201", "401", "403", "409", "422"}
    assert "Idempotent-Replayed" in start["responses"]["200"]["headers"]
    assert "Location" in start["responses"]["201"]["headers"]
    assert "WWW-Authenticate" in start["responses"]["401"]["headers"]
    assert "was used before with a different request body" in (
        start["responses"]["422"]["description"])
    header = next(p for p in start["parameters"] if p["name"] == "Idempotency-Key")
    assert header["in"] == "header" and header["schema"]["maxLength"] == 200
    read = paths["/api/v1/recalls/{number}"]["get"]
    assert set(read["responses"]) == {"200", "401", "403", "404"}
    assert read["parameters"] == [{"name": "number", "in": "path", "required": True,
                                   "schema": {"type": "string"}}]
    assert set(paths["/api/v1/me"]["get"]["responses"]) == {"200", "401"}
    assert set(paths["/api/v1/processes/{key}/instances"]["post"]["responses"]) == {
        "201", "401", "403", "404", "422"}


def test_openapi_document_describes_what_the_api_answers_and_accepts(
    app: Flask, client: FlaskClient, make_user: Any
) -> None:
    """The document is a contract: an error answer has the shape it gives, a path parameter
    the pattern the endpoint checks, a recall body what its cross-field rule demands."""
    import re

    from engine.recall import service as recalls
    from engine.recall.schemas import LEVELS

    token = make_token(app, make_user)
    auth = {"Authorization": f"Bearer {token}"}
    spec = client.get("/api/v1/openapi.json", headers=auth).get_json()
    schemas = spec["components"]["schemas"]
    error_ref = spec["paths"]["/api/v1/me"]["get"]["responses"]["401"]["content"][
        "application/json"]["schema"]["$ref"]
    envelope = schemas[error_ref.rsplit("/", 1)[1]]
    assert envelope["required"] == ["error"]
    answer = client.get("/api/v1/me").get_json()
    assert set(answer) == {"error"} and set(answer["error"]) <= set(schemas["Error"]["properties"])

    start = spec["paths"]["/api/v1/processes/{key}/instances"]["post"]
    pattern = start["parameters"][0]["schema"]["pattern"]
    assert re.fullmatch(pattern, "receiving") and not re.fullmatch(pattern, "0bad")
    for bad in ("0bad", "receiving%0A"):  # a trailing newline is not part of a key either
        refused = client.post(f"/api/v1/processes/{bad}/instances", json={}, headers=auth)
        assert refused.status_code == 422 and "key" in refused.get_json()["error"]["fields"]

    body = schemas["RecallRequest"]
    assert {tuple(option["required"]) for option in body["anyOf"]} == {("lots",), ("serials",)}
    assert body["properties"]["level"]["enum"] == LEVELS
    assert {recalls.normalise_level(level) for level in LEVELS} == {"I", "II", "III"}


def test_a_method_the_endpoint_lacks_is_a_405_naming_the_allowed_ones(
    app: Flask, client: FlaskClient, make_user: Any
) -> None:
    token = make_token(app, make_user)
    answer = client.delete("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 405
    assert answer.get_json()["error"]["code"] == "method_not_allowed"
    assert "GET" in answer.headers["Allow"]
    assert answer.headers["Content-Type"] == "application/json"
