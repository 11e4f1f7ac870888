"""`RulesGate`: the workflow runtime's StepGate on the rule packs active at the instance's site.

For the task being completed it builds the step's typed fact (task data, the explicit `facts`
mapping a script or service task may set, then the submitted form; fields the step does not
know are left out), evaluates the packs in effect at that moment for the instance's site, and
maps the Decision to the runtime's GateOutcome:

- block, and require_fields (the fields it names are not given): the completion is refused
  with the messages in Chinese and English;
- require_signature: the task must be signed with that meaning;
- require_second_person: the performer of that step may not complete this one (of the step
  itself: a dual review must follow, noted as `review_required` in the data);
- warn, quarantine, notify_within: recorded as verdicts, and put in the task data under
  `compliance` (statuses, deadlines with due times, warnings) for later effects to carry out.

Every decision other than "pass" is audited with the pack id and version behind each verdict.
A site without an active pack, or a step no active pack has rules for, passes untouched.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from engine import audit
from engine.db import utcnow
from engine.rules.decision import Deadline, Decision, Verdict
from engine.rules.errors import FactError
from engine.rules.facts import STEPS
from engine.rules.gate import Gate, get_gate
from engine.rules.store import ActivePack, ActivePacks
from engine.workflow.runtime import GateOutcome, StepContext

FACTS_KEY = "facts"
"Task data key a script or service task may fill with fact fields for the next gated step."
OUTCOME_KEY = "compliance"
"Task data key the gate writes its decision into, for effects and gateways downstream."

# When several require_signature verdicts match, the task is signed with the weightiest.
SIGNATURE_PRECEDENCE = ("approved", "released", "responsible", "reviewed", "verified",
                        "performed", "authored")
REFUSING_EFFECTS = ("block", "require_fields")


class RulesGate:
    """The StepGate of GxPFlow: one per app, sharing the process's durable-rules gate."""

    def __init__(self, gate: Gate | None = None, active: ActivePacks | None = None) -> None:
        self._gate = gate
        self.active = active or ActivePacks(gate)

    @property
    def gate(self) -> Gate:
        return self._gate or get_gate()

    def check(self, context: StepContext) -> GateOutcome:
        step = context.meta.step
        site_code = context.instance.site_code
        if step not in STEPS or not site_code:
            return GateOutcome()
        now = utcnow()
        active = self.active.for_site(site_code, now)
        if not any(item.pack.rules_for(step) for item in active):
            return GateOutcome()
        fact = build_fact(context)
        try:
            decision = self.gate.evaluate(step, fact, [item.pack for item in active])
        except FactError as err:
            raise FactError(
                f"The {step} step cannot be checked against the rule packs of site "
                f"{site_code}: {err.message} Correct the form (or the process data) and "
                "submit again.", fields=err.fields) from None
        labels = {f.name: f.label for f in context.meta.form.fields} if context.meta.form else {}
        outcome = to_outcome(decision, now, labels)
        if decision.verdicts:
            _audit(context, decision, active, outcome)
        return outcome


def build_fact(context: StepContext) -> dict[str, Any]:
    """The raw fact for the step: only fields its schema knows, later sources winning."""
    schema = STEPS[context.meta.step]
    names = set(schema.names)
    data = dict(context.task.data)
    explicit = data.get(FACTS_KEY)
    fact: dict[str, Any] = {}
    for source in (data, explicit if isinstance(explicit, Mapping) else {}, context.form,
                   context.facts):
        for name, value in source.items():
            if name in names:
                fact[name] = value
    if context.meta.step == "review.dual":
        reviewed = fact.get("review_of_step") or data.get("review_of_step")
        if reviewed:
            fact["review_of_step"] = reviewed
            # Computed from who did the work, never taken from a form.
            fact["reviewer_is_performer"] = context.performers.get(str(reviewed)) == \
                context.actor.id
    return fact


def to_outcome(decision: Decision, now: datetime | None = None,
               labels: Mapping[str, Mapping[str, str]] | None = None) -> GateOutcome:
    """The runtime's view of a decision (`labels`: the task form's field labels, to name the
    fields a require_fields verdict misses as the person sees them)."""
    moment = now or utcnow()
    refusing = [v for v in decision.verdicts if v.effect in REFUSING_EFFECTS]
    shown = refusing or [v for v in decision.verdicts if v.effect != "require_signature"]
    meanings = decision.signature_required
    meaning = next((m for m in SIGNATURE_PRECEDENCE if m in meanings), None)
    if meaning is None and meanings:
        meaning = meanings[0]
    return GateOutcome(
        blocked=bool(refusing),
        messages=[_message(verdict, decision.fact, labels or {}) for verdict in shown],
        signature_meaning=meaning,
        # "A second person of this very step" is the dual review the process routes to next
        # (data `review_required`); as a four-eyes check here it would refuse the performer
        # redoing their own work in a rework loop.
        second_person_of=[s for s in decision.second_person_required if s != decision.step],
        verdicts=[verdict.to_dict() for verdict in decision.verdicts],
        data={OUTCOME_KEY: _data(decision, moment)} if decision.packs else {},
    )


def _message(verdict: Verdict, fact: Mapping[str, Any],
             labels: Mapping[str, Mapping[str, str]]) -> dict[str, str]:
    en, zh = verdict.message_en, verdict.message_zh
    if verdict.effect == "require_fields":
        fields = list(verdict.params["fields"])
        # Name the fields still missing: empty in the fact, listed in one of its lists of
        # missing items (a delivery note's), or not in it at all; when none is, all.
        listed = {item for value in fact.values() if isinstance(value, list | tuple)
                  for item in value if isinstance(item, str)}
        # Empty and listed ones together; fields the fact does not carry at all only when
        # nothing else says what is missing (they may be carried under another name).
        named = ([f for f in fields if f in listed or (f in fact and fact[f] in (None, "", [], {}))]
                 or [f for f in fields if f not in fact] or fields)

        def label(name: str, locale: str) -> str:
            text = labels.get(name) or {}
            return text.get(locale) or text.get("en") or name

        en = f"{en} (missing: {', '.join(label(n, 'en') for n in named)})"
        zh = f"{zh}（缺少：{'、'.join(label(n, 'zh') for n in named)}）"
    return {"en": en, "zh": zh, "rule": verdict.rule_id, "effect": verdict.effect,
            "source": verdict.source, "pack": f"{verdict.pack_id} {verdict.pack_version}"}


def _data(decision: Decision, now: datetime) -> dict[str, Any]:
    return {
        "step": decision.step,
        "outcome": decision.outcome,
        "packs": [f"{pack_id} {version}" for pack_id, version in decision.packs],
        "rules": decision.rule_ids,
        "warnings": [{"en": v.message_en, "zh": v.message_zh, "rule": v.rule_id}
                     for v in decision.warnings],
        "quarantine": decision.quarantine,
        "temperature_controlled": decision.temperature_controlled_quarantine,
        "deadlines": [_deadline(d, now) for d in decision.deadlines],
        "required_fields": decision.required_fields,
        "review_required": [s for s in decision.second_person_required if s == decision.step],
        "second_person_of": [s for s in decision.second_person_required if s != decision.step],
        "decided_at": now.isoformat(),
    }


def _deadline(deadline: Deadline, now: datetime) -> dict[str, Any]:
    return {"rule": deadline.rule_id, "notify": list(deadline.notify),
            "hours": deadline.hours, "working_days": deadline.working_days,
            "due_at": due_time(deadline, now).isoformat(),
            "en": deadline.message_en, "zh": deadline.message_zh}


def due_time(deadline: Deadline, now: datetime) -> datetime:
    """When a notify_within deadline falls: hours from now, or working days (Mon-Fri)."""
    if deadline.hours is not None:
        return now + timedelta(hours=float(deadline.hours))
    due = now
    left = deadline.working_days or 0
    while left > 0:
        due += timedelta(days=1)
        if due.weekday() < 5:
            left -= 1
    return due


def _audit(context: StepContext, decision: Decision, active: list[ActivePack],
           outcome: GateOutcome) -> None:
    versions = {(item.pack.id, item.pack.version): item for item in active}
    audit.record(
        context.actor, "rules.blocked" if outcome.blocked else "rules.decision",
        "process_instance", context.instance.id,
        after={
            **decision.to_dict(),
            "task": str(context.task.id),
            "site": context.instance.site_code,
            "pack_versions": [
                {"id": pack_id, "version": version,
                 "sha256": versions[(pack_id, version)].sha256,
                 "version_row": versions[(pack_id, version)].version_id}
                for pack_id, version in decision.packs],
        },
    )
