"""The web shell: health check, home page in both languages, one error handler."""

from __future__ import annotations

from typing import Any

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
