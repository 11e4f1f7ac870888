"""Authentication on every route: walked from the app's URL map, so a new page is covered the
day it is added. An anonymous request is sent to log in (pages), refused (API) or stopped by
the CSRF check (forms); only the log-in page, the health check, the language switch and static
files answer it."""

from __future__ import annotations

from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from werkzeug.routing import Rule
from werkzeug.routing.converters import AnyConverter, IntegerConverter

from tests.support.web import csrf_token

PUBLIC = {"auth.login", "core.healthz", "core.set_language", "static"}


def _url(app: Flask, rule: Rule) -> str:
    values: dict[str, Any] = {}
    for name in rule.arguments:
        converter = rule._converters[name]  # werkzeug keeps them here
        if isinstance(converter, AnyConverter):
            values[name] = sorted(converter.items)[0]
        elif isinstance(converter, IntegerConverter):
            values[name] = 1
        else:
            values[name] = "x"
    with app.test_request_context():
        from flask import url_for

        return url_for(rule.endpoint, **values)


def test_every_route_turns_an_anonymous_request_away(app: Flask, client: FlaskClient) -> None:
    answered = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint in PUBLIC or rule.endpoint.endswith(".static"):
            continue
        url = _url(app, rule)
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            # a fresh token each time: the log-out route, walked too, ends the session
            data = {"csrf_token": csrf_token(client, "/auth/login")} if method == "POST" else None
            response = client.open(url, method=method, headers={"Accept": "text/html"},
                                   data=data)
            to_login = (response.status_code == 302
                        and "/auth/login" in response.headers.get("Location", ""))
            if not (to_login or response.status_code in (401, 403)):
                answered.append(f"{method} {url} -> {response.status_code}")
    assert answered == []
