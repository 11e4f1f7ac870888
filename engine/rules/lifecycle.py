"""A pack's life: run its cases before activation, and diff two versions for review."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from engine.rules.conditions import describe
from engine.rules.gate import Gate
from engine.rules.pack import Pack, Rule


@dataclass(frozen=True)
class CaseResult:
    """One case: the rules it expected, the rules that fired, and whether they are the same."""

    name: str
    step: str
    expected: tuple[str, ...]
    got: tuple[str, ...]

    @property
    def passed(self) -> bool:
        return self.expected == self.got

    @property
    def missing(self) -> tuple[str, ...]:
        """Expected but did not fire."""
        return tuple(rule for rule in self.expected if rule not in self.got)

    @property
    def unexpected(self) -> tuple[str, ...]:
        """Fired but not expected."""
        return tuple(rule for rule in self.got if rule not in self.expected)


@dataclass(frozen=True)
class CaseReport:
    """The outcome of a pack's cases; a pack may be activated only when `ok`."""

    pack_id: str
    pack_version: str
    results: tuple[CaseResult, ...]
    untriggered: tuple[str, ...] = ()
    "Rules no case fires."
    never_quiet: tuple[str, ...] = ()
    "Rules that fire in every case of their step (no case shows them staying quiet)."

    @property
    def failed(self) -> list[CaseResult]:
        return [result for result in self.results if not result.passed]

    @property
    def ok(self) -> bool:
        """Every case passed and there is at least one."""
        return bool(self.results) and not self.failed

    @property
    def complete(self) -> bool:
        """Every rule has a case that fires it and a case at its step that does not."""
        return not self.untriggered and not self.never_quiet

    def render(self) -> str:
        passed = len(self.results) - len(self.failed)
        lines = [f"Pack {self.pack_id} {self.pack_version}: {passed}/{len(self.results)} "
                 "cases passed"]
        for result in self.failed:
            lines.append(f"  FAILED {result.name} ({result.step})")
            lines.append(f"    expected: {', '.join(result.expected) or 'nothing'}")
            lines.append(f"    got:      {', '.join(result.got) or 'nothing'}")
        if self.untriggered:
            lines.append(f"  no case fires: {', '.join(self.untriggered)}")
        if self.never_quiet:
            lines.append(f"  no case leaves quiet: {', '.join(self.never_quiet)}")
        return "\n".join(lines)


def run_cases(pack: Pack, gate: Gate | None = None) -> CaseReport:
    """Evaluate every case of the pack on a gate (a private one unless given)."""
    own = gate is None
    runner = gate or Gate()
    try:
        results = []
        for case in pack.cases:
            decision = runner.evaluate(case.step, case.fact, [pack])
            results.append(CaseResult(name=case.name, step=case.step, expected=case.expect,
                                      got=tuple(sorted(decision.rule_ids))))
    finally:
        if own:
            runner.close()
    fired = {rule for result in results for rule in result.got}
    quiet = {(result.step, rule.id) for result in results
             for rule in pack.rules_for(result.step) if rule.id not in result.got}
    return CaseReport(
        pack_id=pack.id, pack_version=pack.version, results=tuple(results),
        untriggered=tuple(rule.id for rule in pack.rules if rule.id not in fired),
        never_quiet=tuple(rule.id for rule in pack.rules if (rule.step, rule.id) not in quiet),
    )


@dataclass(frozen=True)
class PackChange:
    """One difference between two pack versions: a pack field, or a rule added/removed/changed."""

    kind: str
    "pack, added, removed or changed"
    rule_id: str | None = None
    field: str | None = None
    old: Any = None
    new: Any = None

    def __str__(self) -> str:
        if self.kind == "pack":
            return f"pack {self.field}: {_text(self.old)} -> {_text(self.new)}"
        if self.kind == "added":
            return f"+ rule {self.rule_id}: {_text(self.new)}"
        if self.kind == "removed":
            return f"- rule {self.rule_id}: {_text(self.old)}"
        return f"~ rule {self.rule_id} {self.field}: {_text(self.old)} -> {_text(self.new)}"


def _rule_fields(rule: Rule) -> dict[str, Any]:
    view: dict[str, Any] = {
        "step": rule.step, "when": describe(rule.when), "effect": rule.effect,
        "message.zh": rule.message_zh, "message.en": rule.message_en, "source": rule.source,
    }
    for name, value in sorted(rule.params.items()):
        view[f"params.{name}"] = value
    return view


def _summary(rule: Rule) -> str:
    return f"[{rule.step}] {rule.effect} when {describe(rule.when)}"


def diff_packs(old: Pack, new: Pack) -> list[PackChange]:
    """What changed from `old` to `new`: pack fields, then rules removed, added and changed."""
    changes: list[PackChange] = []
    for name in ("id", "region", "version", "effective_date", "title", "description"):
        before, after = getattr(old, name), getattr(new, name)
        if before != after:
            changes.append(PackChange("pack", field=name, old=before, new=after))
    old_rules = {rule.id: rule for rule in old.rules}
    new_rules = {rule.id: rule for rule in new.rules}
    for rule_id, rule in old_rules.items():
        if rule_id not in new_rules:
            changes.append(PackChange("removed", rule_id=rule_id, old=_summary(rule)))
    for rule_id, rule in new_rules.items():
        if rule_id not in old_rules:
            changes.append(PackChange("added", rule_id=rule_id, new=_summary(rule)))
    for rule_id, rule in new_rules.items():
        if rule_id not in old_rules:
            continue
        before, after = _rule_fields(old_rules[rule_id]), _rule_fields(rule)
        for name in _ordered_keys(before, after):
            if before.get(name) != after.get(name):
                changes.append(PackChange("changed", rule_id=rule_id, field=name,
                                          old=before.get(name), new=after.get(name)))
    return changes


def _ordered_keys(first: dict[str, Any], second: dict[str, Any]) -> Iterable[str]:
    keys = list(first)
    keys += [key for key in second if key not in first]
    return keys


def render_diff(old: Pack, new: Pack, changes: list[PackChange] | None = None) -> str:
    """The diff as text for the compliance officer who signs the new version."""
    found = diff_packs(old, new) if changes is None else changes
    head = f"{old.id} {old.version} -> {new.id} {new.version}"
    if not found:
        return f"{head}: no changes"
    return "\n".join([f"{head}: {len(found)} change(s)", *(f"  {change}" for change in found)])


def _text(value: Any) -> str:
    if value is None:
        return "(none)"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(str(item) for item in value) + "]"
    return str(value)
