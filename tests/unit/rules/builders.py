"""Rules and packs in pack form (plain dicts), valid by default, for tests to bend."""

from __future__ import annotations

from typing import Any


def rule(rule_id: str = "t-rule", step: str = "receiving.inspect", **overrides: Any
         ) -> dict[str, Any]:
    """A valid rule in pack form; keyword arguments replace its keys."""
    data: dict[str, Any] = {
        "id": rule_id, "step": step, "when": {"field": "cold_chain", "eq": True},
        "effect": "warn", "message": {"zh": "测试", "en": "Test"}, "source": "GSP 67 ※",
    }
    data.update(overrides)
    return data


def pack_data(*rules: dict[str, Any], **overrides: Any) -> dict[str, Any]:
    """A valid pack in pack form holding the given rules (one default rule if none)."""
    data: dict[str, Any] = {
        "id": "test", "region": "CN", "version": "1.0.0", "effective_date": "2024-07-01",
        "title": "Test pack", "rules": list(rules) or [rule()],
    }
    data.update(overrides)
    return data
