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
