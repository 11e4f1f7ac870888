"""One error hierarchy: every refusal carries a code, a message a person can act on and a status.

The web layer turns these into HTML or JSON; the CLI prints the message as one line.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

#: Marks where clip() cut a text.
ELLIPSIS = "…"


def clip(text: str, limit: int = 80) -> str:
    """`text` kept to `limit` characters, the cut marked with an ellipsis: what a message
    quotes from a user's input stays short, whatever the input."""
    return text if len(text) <= limit else text[:limit - 1] + ELLIPSIS


class Bilingual(str):
    """A text made at run time (it quotes an address, a number) in English, carrying its
    Chinese: a field problem no message catalog can hold. The web's translate() reads `zh`."""

    zh: str

    def __new__(cls, en: str, zh: str) -> Bilingual:
        text = super().__new__(cls, en)
        text.zh = zh
        return text

    def __getnewargs__(self) -> tuple[str, str]:  # type: ignore[override]
        """Both texts, so a copy or a pickle (a Celery message) keeps the Chinese."""
        return str(self), self.zh


class GxpError(Exception):
    """Base of every error GxPFlow raises on purpose."""

    code = "error"
    status = 400

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        status: int | None = None,
        fields: Mapping[str, Any] | None = None,
        zh: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.zh = zh  # the message in Chinese, where the raiser gives one
        if code is not None:
            self.code = code
        if status is not None:
            self.status = status
        self.fields: dict[str, Any] = dict(fields or {})

    def text(self, locale: str) -> str:
        """The message in `locale` (zh or en), English where no translation was given."""
        return self.zh if self.zh and locale.startswith("zh") else self.message

    def to_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.fields:
            body["fields"] = self.fields
        return body


class ConfigError(GxpError):
    """A setting is missing or malformed; start-up stops with this one line."""

    code = "config"
    status = 500


class NotFound(GxpError):
    code = "not_found"
    status = 404


class PermissionDenied(GxpError):
    code = "forbidden"
    status = 403


class NotAuthenticated(GxpError):
    code = "unauthenticated"
    status = 401


class Conflict(GxpError):
    """Someone else changed the record first, or the act was already done."""

    code = "conflict"
    status = 409


class InvalidInput(GxpError):
    """Input refused; `fields` maps each bad field to the reason."""

    code = "invalid"
    status = 422


class ServiceUnavailable(GxpError):
    """A backing service (database, broker) cannot be reached."""

    code = "unavailable"
    status = 503
