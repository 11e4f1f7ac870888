"""The web shell: health check, home page in both languages, one error handler."""

from __future__ import annotations

from typing import Any

from flask import Flask
from flask.testing import FlaskClient

from tests.support import backends
from tests.support.web import login


def test_healthz_reports_database_and_broker(client: FlaskClient, stack: backends.Stack) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.get_json()
    assert body["status"] == "ok"
    backend = "postgresql" if stack.backend == "production" else "sqlite"
    assert body["database"] == {"ok": True, "backend": backend}
    assert body["broker"]["ok"] is True


def test_home_page_in_english_and_chinese(client: FlaskClient, make_user: Any) -> None:
    make_user("viewer", "auditor")
    login(client, "viewer")
    english = client.get("/", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert "Welcome to GxPFlow" in english
    client.get("/lang/zh")
    chinese = client.get("/").get_data(as_text=True)
    assert "欢迎使用 GxPFlow" in chinese
    assert 'lang="zh-CN"' in chinese


def test_language_switch_only_redirects_inside_the_site(client: FlaskClient) -> None:
    # browsers read "/\\host" as "//host"; a tab or newline is dropped from a URL the same way
    for target in ("//evil.example/", "/\\evil.example/", "/\\/evil.example",
                   "https://evil.example/", "/\t/evil.example"):
        response = client.get("/lang/en", query_string={"next": target})
        assert response.headers["Location"] == "/", target
    assert client.get("/lang/en?next=/ledger/?status=picked").headers["Location"] == (
        "/ledger/?status=picked")


def test_claim_goes_back_only_to_a_page_of_the_site() -> None:
    from web.security import local_target

    assert local_target("/inbox/?tab=mine", "/x") == "/inbox/?tab=mine"
    for target in (None, "", "inbox", "//evil.example", "/\\evil.example", "http://evil.example",
                   "/\nLocation: x"):
        assert local_target(target, "/x") == "/x", target


def test_errors_answer_json_to_api_clients_and_html_to_browsers(client: FlaskClient) -> None:
    api = client.get("/api/v1/nothing-here")
    assert api.status_code == 401
    assert api.get_json()["error"]["code"] == "unauthenticated"
    page = client.get("/nothing-here", headers={"Accept": "text/html"})
    assert page.status_code == 404
    assert "text/html" in page.headers["Content-Type"]
    assert "Error 404" in page.get_data(as_text=True)


def test_unexpected_errors_show_no_traceback(stack: backends.Stack, make_user: Any) -> None:
    make_user("viewer", "auditor")
    fresh = backends.make_app(stack)

    @fresh.get("/boom")
    def boom() -> str:
        raise RuntimeError("secret internals")

    browser = fresh.test_client()
    try:
        login(browser, "viewer")
        response = browser.get("/boom", headers={"Accept": "application/json"})
    finally:
        with fresh.app_context():  # this second app's pool must not outlive the test
            fresh.extensions["sqlalchemy"].engine.dispose()
    assert response.status_code == 500
    body = response.get_json()["error"]
    assert body["code"] == "internal"
    assert "secret internals" not in body["message"]


def test_text_no_database_can_store_is_refused_naming_the_field(
    app: Flask, client: FlaskClient, make_user: Any
) -> None:
    """A NUL (PostgreSQL refuses it) or an unpaired surrogate (not UTF-8) in a query, a form or
    a JSON body is a 422 naming the field, never a server error; nothing is written."""
    from engine import audit
    from engine.db import db
    from engine.identity import service as identity
    from tests.support.web import csrf_token, login

    make_user("clerk", "receiving_clerk")
    login(client, "clerk")
    searched = client.get("/inbox/?q=PO%00-1")
    assert searched.status_code == 422 and "The field q contains" in searched.get_data(True)
    token = csrf_token(client, "/auth/preferences")
    posted = client.post("/auth/preferences", data={"csrf_token": token, "timezone": "UTC\x00"})
    assert posted.status_code == 422 and "timezone" in posted.get_data(True)
    client.set_cookie("gxpflow_locale", "zh")
    assert "字段 q 含有无法保存的字符" in client.get("/inbox/?q=%00").get_data(True)

    make_user("erp", "api_client")
    with app.app_context():
        token = identity.create_token(audit.SYSTEM, identity.find_user("erp"), "ERP")
        db.session.commit()
    for body, field in (({"product": "A\x00", "lots": ["L1"]}, "product"),
                        ({"product": "A", "lots": ["L1", "L\ud800"]}, "lots[1]")):
        answer = client.post("/api/v1/recalls", json=body, headers={
            "Authorization": f"Bearer {token}", "Idempotency-Key": "k-1"})
        assert answer.status_code == 422, answer.get_data(True)
        assert list(answer.get_json()["error"]["fields"]) == [field]
    assert client.post("/api/v1/recalls", json={"product": "A\x00"}).status_code == 401, (
        "the token is asked for first")
