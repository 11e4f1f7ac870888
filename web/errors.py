"""One handler for every error: JSON to API clients, a page to browsers, never a traceback."""

from __future__ import annotations

import logging
import re
from typing import Any

from flask import Flask, Response, jsonify, render_template, request
from flask_wtf.csrf import CSRFError
from marshmallow import ValidationError
from SpiffWorkflow.exceptions import WorkflowException
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from engine.errors import GxpError, InvalidInput
from web.i18n import refusal

log = logging.getLogger(__name__)


def wants_json() -> bool:
    if request.path.startswith("/api/") or request.path == "/healthz":
        return True
    best = request.accept_mimetypes.best_match(["text/html", "application/json"])
    return best == "application/json" and request.accept_mimetypes[best] > request.accept_mimetypes[
        "text/html"
    ]


def respond(error: GxpError) -> tuple[Response | str, int]:
    if wants_json():
        return jsonify(error=error.to_dict()), error.status
    return render_template("error.html", error=error, message=refusal(error)), error.status


#: What no text column can hold: NUL (PostgreSQL refuses it) and unpaired UTF-16 surrogates
#: (what a JSON escape such as \ud800 alone decodes to: it is not UTF-8).
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
UNSTORABLE = ("Contains a character that cannot be stored (a NUL or an unpaired surrogate); "
              "remove it.")


def _unstorable_json(value: Any, path: str) -> str | None:
    """The path of the first text in a JSON document (keys included) that no column can hold."""
    if isinstance(value, str):
        return path if _UNSTORABLE.search(value) else None
    if isinstance(value, dict):
        for key, item in value.items():
            where = f"{path}.{key}" if path else str(key)
            if _UNSTORABLE.search(str(key)):
                return path or "_"
            found = _unstorable_json(item, where)
            if found:
                return found
    if isinstance(value, list):
        for index, item in enumerate(value):
            found = _unstorable_json(item, f"{path}[{index}]")
            if found:
                return found
    return None


def refuse_unstorable_text() -> None:
    """Before any view: a query parameter, form field or JSON text that the database could not
    store is refused naming the field, instead of failing in the database (a server error)."""
    found = next((name for values in (request.args, request.form)
                  for name, value in values.items(multi=True) if _UNSTORABLE.search(value)),
                 None)
    if found is None and request.is_json:
        found = _unstorable_json(request.get_json(silent=True), "")
    if found is not None:
        raise InvalidInput(f"The field {found} contains a character that cannot be stored.",
                           zh=f"字段 {found} 含有无法保存的字符。", fields={found: UNSTORABLE})


def init_app(app: Flask) -> None:
    @app.errorhandler(GxpError)
    def _gxp(error: GxpError) -> Any:
        return respond(error)

    @app.errorhandler(ValidationError)
    def _marshmallow(error: ValidationError) -> Any:
        messages = error.messages if isinstance(error.messages, dict) else {"_": error.messages}
        return respond(InvalidInput("Some fields are not valid.", fields=messages))

    @app.errorhandler(WorkflowException)
    def _workflow(error: WorkflowException) -> Any:
        return respond(GxpError(f"The workflow could not continue: {error}", code="workflow"))

    @app.errorhandler(CSRFError)
    def _csrf(error: CSRFError) -> Any:
        return respond(GxpError(
            "This form has expired or did not come from GxPFlow. Go back, reload the page "
            "and submit it again.", code="csrf", status=400))

    @app.errorhandler(RequestEntityTooLarge)
    def _too_large(_error: RequestEntityTooLarge) -> Any:
        return respond(GxpError(
            "What you sent is too large (at most 10 files of 10 MB each in one form). Go back "
            "and attach fewer or smaller files.", code="too_large", status=413))

    @app.errorhandler(HTTPException)
    def _http(error: HTTPException) -> Any:
        status = error.code or 500
        body, status = respond(
            GxpError(error.description or error.name, code=error.name.lower().replace(" ", "_"),
                     status=status)
        )
        # The exception's own headers stay (a 405 names the methods allowed: RFC 9110).
        headers = [(name, value) for name, value in error.get_headers()
                   if name.lower() != "content-type"]
        return body, status, headers

    @app.errorhandler(Exception)
    def _unexpected(error: Exception) -> Any:
        log.exception("unhandled error on %s %s", request.method, request.path)
        return respond(
            GxpError(
                "Something went wrong on the server. Nothing was saved; try again, and tell "
                "your administrator if it happens again.",
                code="internal",
                status=500,
            )
        )
