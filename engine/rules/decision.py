"""What the gate answers: every matching rule as a Verdict, merged into one Decision."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from engine.rules.pack import EFFECTS, Pack, Rule

# Strictest first; "pass" when nothing matched.
NOTHING_MATCHED = "pass"
OUTCOMES = (*EFFECTS, NOTHING_MATCHED)


@dataclass(frozen=True)
class Verdict:
    """One rule that matched the fact, with the pack version that holds it."""

    rule_id: str
    effect: str
    params: Mapping[str, Any]
    message_zh: str
    message_en: str
    source: str
    pack_id: str
    pack_version: str

    @classmethod
    def of(cls, rule: Rule, pack: Pack) -> Verdict:
        return cls(rule_id=rule.id, effect=rule.effect, params=dict(rule.params),
                   message_zh=rule.message_zh, message_en=rule.message_en, source=rule.source,
                   pack_id=pack.id, pack_version=pack.version)

    def message(self, locale: str = "en") -> str:
        return self.message_zh if locale == "zh" else self.message_en

    def to_dict(self) -> dict[str, Any]:
        return {
            "rule_id": self.rule_id, "effect": self.effect, "params": dict(self.params),
            "message": {"zh": self.message_zh, "en": self.message_en}, "source": self.source,
            "pack_id": self.pack_id, "pack_version": self.pack_version,
        }


@dataclass(frozen=True)
class Deadline:
    """A notify_within verdict: who must be told, and by when (hours or working days)."""

    rule_id: str
    notify: tuple[str, ...]
    hours: float | None
    working_days: int | None
    message_en: str
    message_zh: str


@dataclass(frozen=True)
class Decision:
    """Every verdict for one step, from every pack evaluated; `outcome` is the strictest."""

    step: str
    verdicts: tuple[Verdict, ...] = ()
    packs: tuple[tuple[str, str], ...] = ()
    "(pack id, version) of every pack evaluated, matched or not."
    fact: Mapping[str, Any] = field(default_factory=dict)
    "The typed fact the packs were evaluated against."

    def by_effect(self, effect: str) -> list[Verdict]:
        return [verdict for verdict in self.verdicts if verdict.effect == effect]

    @property
    def rule_ids(self) -> list[str]:
        return [verdict.rule_id for verdict in self.verdicts]

    @property
    def blocked(self) -> bool:
        return any(verdict.effect == "block" for verdict in self.verdicts)

    @property
    def blocks(self) -> list[Verdict]:
        return self.by_effect("block")

    @property
    def warnings(self) -> list[Verdict]:
        return self.by_effect("warn")

    @property
    def signature_required(self) -> list[str]:
        """Meanings of the signatures required (empty: none)."""
        return _unique(str(v.params["meaning"]) for v in self.by_effect("require_signature"))

    @property
    def second_person_required(self) -> list[str]:
        """Steps whose performer may not be the one who confirms (empty: none)."""
        return _unique(str(v.params["of_step"]) for v in self.by_effect("require_second_person"))

    @property
    def quarantine(self) -> list[str]:
        """Statuses the stock must go to (quarantine, nonconforming, recalled); empty: none."""
        return _unique(str(v.params["status"]) for v in self.by_effect("quarantine"))

    @property
    def temperature_controlled_quarantine(self) -> bool:
        return any(v.params.get("temperature_controlled") for v in self.by_effect("quarantine"))

    @property
    def deadlines(self) -> list[Deadline]:
        """Notifications due, shortest first (working-day deadlines after hour deadlines)."""
        found = [
            Deadline(rule_id=v.rule_id, notify=tuple(v.params["notify"]),
                     hours=v.params.get("deadline_hours"),
                     working_days=v.params.get("deadline_working_days"),
                     message_en=v.message_en, message_zh=v.message_zh)
            for v in self.by_effect("notify_within")
        ]
        return sorted(found, key=lambda d: (d.hours is None, d.hours or 0, d.working_days or 0))

    @property
    def required_fields(self) -> list[str]:
        return _unique(name for v in self.by_effect("require_fields")
                       for name in v.params["fields"])

    @property
    def outcome(self) -> str:
        effects = {verdict.effect for verdict in self.verdicts}
        return next((effect for effect in EFFECTS if effect in effects), NOTHING_MATCHED)

    def messages(self, locale: str = "en") -> list[str]:
        return [verdict.message(locale) for verdict in self.verdicts]

    def to_dict(self) -> dict[str, Any]:
        """The decision for the audit trail: step, outcome, packs, fact and every verdict."""
        return {
            "step": self.step,
            "outcome": self.outcome,
            "packs": [{"id": pack_id, "version": version} for pack_id, version in self.packs],
            "fact": dict(self.fact),
            "verdicts": [verdict.to_dict() for verdict in self.verdicts],
        }


def _unique(values: Any) -> list[str]:
    seen: list[str] = []
    for value in values:
        if value not in seen:
            seen.append(value)
    return seen
