"""Errors of the rule-pack engine: a bad fact, a bad pack, a gate that could not decide.

A refusal echoes what it was given (a misspelt field, a wrong value) through `echo` or `clip`,
which keep it to `MAX_SHOWN` characters; the errors below cut any message to `MAX_MESSAGE`
besides, so no refusal, however hostile the upload, becomes a huge page.
"""

from __future__ import annotations

import reprlib
from collections.abc import Mapping
from typing import Any

from engine.errors import ELLIPSIS, GxpError, InvalidInput, clip

MAX_SHOWN = 80
"Characters of a user's value a message echoes."
MAX_MESSAGE = 2000
"Characters of a refusal message (the longest a correct pack can cause is under 500)."
MAX_FIELDS = 20
"Entries of a refusal's `fields` (the rest are left out)."
MAX_REASON = 400
"Characters of the reason given for one field."


class _BoundedRepr(reprlib.Repr):
    """`repr` that stops early: a value built by YAML aliases may stand for millions of items,
    and only its first few are ever shown."""

    def __init__(self) -> None:
        super().__init__()
        self.maxlevel = 3
        self.maxtuple = self.maxlist = self.maxarray = self.maxdict = 8
        self.maxset = self.maxfrozenset = self.maxdeque = 8
        self.maxstring = self.maxlong = self.maxother = MAX_SHOWN + 1

    def repr_str(self, x: str, level: int) -> str:
        return repr(x[:self.maxstring])  # cut at the end (reprlib cuts out the middle)


_REPR = _BoundedRepr()


def echo(value: Any, limit: int = MAX_SHOWN) -> str:
    """A user's value as a message quotes it (`'arival_temp'`, `[1, 2]`), at most `limit`
    characters; the cost does not grow with the value."""
    return clip(_REPR.repr(value), limit)


def _bounded_fields(fields: Mapping[str, Any] | None) -> dict[str, Any]:
    """At most `MAX_FIELDS` entries (then one saying how many more), names and reasons
    clipped; bounding bounded fields again changes nothing."""
    items = list((fields or {}).items())
    if len(items) > MAX_FIELDS + 1:
        items = [*items[:MAX_FIELDS], (ELLIPSIS, f"{len(items) - MAX_FIELDS} more")]
    return {clip(str(name)): clip(reason, MAX_REASON) if isinstance(reason, str)
            else reason if reason is None or isinstance(reason, int | float)
            else echo(reason, MAX_REASON) for name, reason in items}


class FactError(InvalidInput):
    """A fact does not fit its step's schema; `fields` maps each bad field to the reason."""

    code = "invalid_fact"

    def __init__(self, message: str, *, fields: Mapping[str, Any] | None = None) -> None:
        super().__init__(clip(message, MAX_MESSAGE), fields=_bounded_fields(fields))


class PackError(GxpError):
    """A rule pack (or its cases) is malformed; the message names file, rule and field."""

    code = "invalid_rule_pack"
    status = 422

    def __init__(self, message: str, *, fields: Mapping[str, Any] | None = None) -> None:
        super().__init__(clip(message, MAX_MESSAGE), fields=_bounded_fields(fields))


class GateError(GxpError):
    """The gate could not evaluate a fact (a rule action failed or the engine refused)."""

    code = "gate_failed"
    status = 500

    def __init__(self, message: str, *, fields: Mapping[str, Any] | None = None) -> None:
        super().__init__(clip(message, MAX_MESSAGE), fields=_bounded_fields(fields))
