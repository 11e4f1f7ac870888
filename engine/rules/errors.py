"""Errors of the rule-pack engine: a bad fact, a bad pack, a gate that could not decide."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from engine.errors import GxpError, InvalidInput


class FactError(InvalidInput):
    """A fact does not fit its step's schema; `fields` maps each bad field to the reason."""

    code = "invalid_fact"


class PackError(GxpError):
    """A rule pack (or its cases) is malformed; the message names file, rule and field."""

    code = "invalid_rule_pack"
    status = 422

    def __init__(self, message: str, *, fields: Mapping[str, Any] | None = None) -> None:
        super().__init__(message, fields=fields)


class GateError(GxpError):
    """The gate could not evaluate a fact (a rule action failed or the engine refused)."""

    code = "gate_failed"
    status = 500
