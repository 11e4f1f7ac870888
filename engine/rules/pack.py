"""Rule packs: a folder `rules/<name>/` with `pack.yaml` and `cases.yaml`, loaded and checked.

Every refusal is a `PackError` naming the file, the rule (or case) and the field, e.g.
`rules/nmpa/pack.yaml: rule nmpa-gsp67-temp: when.field 'arival_temp' is not a field of step
receiving.inspect`.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import yaml

from engine.rules.conditions import Condition, ConditionError, parse_condition, to_data
from engine.rules.errors import FactError, PackError, clip, echo
from engine.rules.facts import STEPS, type_fact

# Strictest first: the order `Decision.outcome` uses.
EFFECTS = ("block", "quarantine", "require_second_person", "require_signature",
           "require_fields", "notify_within", "warn")
REGIONS = ("CN", "US", "EU")
# The meanings engine/signatures.py knows (Part 11.50: review, approval, responsibility...).
SIGNATURE_MEANINGS = ("authored", "performed", "reviewed", "approved", "released",
                      "responsible", "verified")
QUARANTINE_STATUSES = ("quarantine", "nonconforming", "recalled")
RECIPIENTS = ("qa", "quality_head", "registrant", "manufacturer", "supplier", "customers",
              "consignees", "authority", "authorised_representative", "importer")

PACK_ID = re.compile(r"[a-z][a-z0-9_-]{0,39}")
RULE_ID = re.compile(r"[a-z][a-z0-9]*(?:[.-][a-z0-9]+)*")
VERSION = re.compile(r"\d+(?:\.\d+){1,3}(?:[-+][0-9A-Za-z.-]+)?")
FIELD_NAME = re.compile(r"[a-z][a-z0-9_]*")
MAX_RULE_ID = 80
MAX_FILE_BYTES = 1_000_000
"Largest pack.yaml or cases.yaml accepted (the shipped ones are under 60 kB)."
MAX_YAML_DEPTH = 40
"Deepest nesting of a pack file (the shipped ones nest 13 levels; a condition at most 8)."
MAX_ALIAS_VALUES = 10_000
"Values all the aliases of one file may stand for (the shipped ones: at most 1,152)."

PACK_KEYS = frozenset({"id", "region", "version", "effective_date", "title", "rules"})
PACK_OPTIONAL_KEYS = frozenset({"description"})
RULE_KEYS = frozenset({"id", "step", "when", "effect", "message", "source"})
RULE_OPTIONAL_KEYS = frozenset({"params"})
CASE_KEYS = frozenset({"name", "step", "fact", "expect"})


@dataclass(frozen=True)
class Rule:
    """One rule: at `step`, when `when` holds, apply `effect` with `params`."""

    id: str
    step: str
    when: Condition
    effect: str
    params: Mapping[str, Any]
    message_zh: str
    message_en: str
    source: str

    def to_data(self) -> dict[str, Any]:
        """The rule in pack form, canonical (for digests, diffs and audits)."""
        return {
            "id": self.id, "step": self.step, "when": to_data(self.when),
            "effect": self.effect, "params": dict(self.params),
            "message": {"zh": self.message_zh, "en": self.message_en}, "source": self.source,
        }


@dataclass(frozen=True)
class Case:
    """A worked example: this typed fact at this step fires exactly these rules."""

    name: str
    step: str
    fact: Mapping[str, Any]
    expect: tuple[str, ...]


@dataclass(frozen=True)
class Pack:
    """A loaded, validated rule pack."""

    id: str
    region: str
    version: str
    effective_date: date
    title: str
    rules: tuple[Rule, ...]
    cases: tuple[Case, ...] = ()
    description: str = ""
    folder: Path | None = None
    digest: str = field(default="", compare=False)

    def rules_for(self, step: str) -> tuple[Rule, ...]:
        return tuple(rule for rule in self.rules if rule.step == step)

    @property
    def steps(self) -> tuple[str, ...]:
        """Steps this pack has rules for, in catalog order."""
        used = {rule.step for rule in self.rules}
        return tuple(step for step in STEPS if step in used)

    def rule(self, rule_id: str) -> Rule:
        for rule in self.rules:
            if rule.id == rule_id:
                return rule
        raise KeyError(rule_id)

    @property
    def label(self) -> str:
        return f"{self.id} {self.version}"


def default_rules_root() -> Path:
    """The shipped packs: `rules/` at the project root."""
    return Path(__file__).resolve().parents[2] / "rules"


def pack_names(rules_root: Path | None = None) -> list[str]:
    """Names of the pack folders under the rules root (folders holding a pack.yaml)."""
    root = rules_root or default_rules_root()
    return sorted(path.parent.name for path in root.glob("*/pack.yaml"))


def load_packs(rules_root: Path | None = None) -> list[Pack]:
    """Every pack under the rules root, by folder name."""
    root = rules_root or default_rules_root()
    return [load_pack(name, rules_root=root) for name in pack_names(root)]


def load_pack(name_or_path: str | Path, rules_root: Path | None = None) -> Pack:
    """Load and check a pack by name (a folder under `rules_root`) or by folder path."""
    if isinstance(name_or_path, Path) or "/" in name_or_path or "\\" in name_or_path:
        folder = Path(name_or_path)
    else:
        if not PACK_ID.fullmatch(name_or_path):
            raise PackError(f"{echo(name_or_path)} is not a pack name (lower case letters, digits, "
                            "- and _).")
        folder = (rules_root or default_rules_root()) / name_or_path
    pack_file, cases_file = folder / "pack.yaml", folder / "cases.yaml"
    shown = f"{folder.parent.name}/{folder.name}" if folder.parent.name else folder.name
    if not pack_file.is_file():
        raise PackError(f"{shown}/pack.yaml: no such file; a pack is a folder holding "
                        "pack.yaml and cases.yaml.")
    if not cases_file.is_file():
        raise PackError(f"{shown}/cases.yaml: no such file; every pack ships its cases.")
    data = _read_yaml(pack_file, f"{shown}/pack.yaml")
    cases = _read_yaml(cases_file, f"{shown}/cases.yaml")
    return parse_pack(data, cases, source=f"{shown}/pack.yaml",
                      cases_source=f"{shown}/cases.yaml", folder=folder)


class _Refused(yaml.YAMLError):
    """A pack file whose structure is refused before it is built (see `_StrictLoader`)."""

    def __init__(self, event: yaml.Event, reason: str) -> None:
        super().__init__(reason)
        self.line = event.start_mark.line + 1 if event.start_mark is not None else 0
        self.reason = reason


class _StrictLoader(yaml.SafeLoader):
    """Safe YAML that refuses a key given twice (PyYAML would keep the last silently), nesting
    deeper than `MAX_YAML_DEPTH`, an alias of the node it sits in, and aliases that stand for
    more than `MAX_ALIAS_VALUES` values in all: the shipped cases reuse an anchor (`<<: *base`)
    a few dozen times, an alias bomb ("billion laughs") nests aliases to stand for billions."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0
        self._open_anchors: set[str] = set()
        self._alias_values = 0
        self._sizes: dict[int, int] = {}

    def compose_node(self, parent: yaml.Node | None, index: int) -> yaml.Node | None:
        event = self.peek_event()
        if isinstance(event, yaml.AliasEvent):
            alias = clip(str(event.anchor))
            if event.anchor in self._open_anchors:
                raise _Refused(event, f"alias *{alias} is used inside the value it names; "
                                      "YAML that refers to itself is not allowed.")
            node = super().compose_node(parent, index)
            if node is not None:
                self._alias_values += self._size(node)
            if self._alias_values > MAX_ALIAS_VALUES:
                raise _Refused(event, f"alias *{alias} makes the aliases of this file stand "
                                      f"for more than {MAX_ALIAS_VALUES:,} values; reuse an "
                                      "anchor a few times, do not nest aliases to multiply "
                                      "it.")
            return node
        self._depth += 1
        if self._depth > MAX_YAML_DEPTH:
            raise _Refused(event, f"nests deeper than {MAX_YAML_DEPTH} levels.")
        anchor = getattr(event, "anchor", None)
        if anchor is not None:
            self._open_anchors.add(anchor)
        node = super().compose_node(parent, index)
        self._open_anchors.discard(anchor)
        self._depth -= 1
        return node

    def _size(self, node: yaml.Node) -> int:
        """How many values `node` stands for, aliases in it expanded (computed once a node)."""
        found = self._sizes.get(id(node))
        if found is None:
            if isinstance(node, yaml.SequenceNode):
                found = 1 + sum(self._size(item) for item in node.value)
            elif isinstance(node, yaml.MappingNode):
                found = 1 + sum(self._size(key) + self._size(value) for key, value in node.value)
            else:
                found = 1
            self._sizes[id(node)] = found
        return found


def _mapping_without_duplicates(loader: _StrictLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    seen: set[Any] = set()
    for key_node, _ in node.value:
        if key_node.tag == "tag:yaml.org,2002:merge":
            continue  # `<<: *base` merges, and keys given beside it override on purpose
        key = loader.construct_object(key_node)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"key {echo(key)} is given twice", key_node.start_mark)
        seen.add(key)
    return loader.construct_mapping(node, deep=True)


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG,
                              _mapping_without_duplicates)


def _read_yaml(path: Path, shown: str) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise PackError(f"{shown}: cannot be read ({clip(str(err), 200)}).") from None
    return _parse_yaml(text, shown)


def _parse_yaml(text: str, shown: str) -> Any:
    """The YAML of one pack file; PackError (the file, the line, the reason) when refused."""
    if len(text) > MAX_FILE_BYTES or len(text.encode("utf-8")) > MAX_FILE_BYTES:
        raise PackError(f"{shown}: larger than {MAX_FILE_BYTES:,} bytes.")
    loader = _StrictLoader(text)
    try:
        return loader.get_single_data()
    except _Refused as refused:
        raise PackError(f"{shown}: line {refused.line}: {refused.reason}") from None
    except yaml.MarkedYAMLError as err:
        where = err.problem_mark or err.context_mark
        problem = " ".join(f"{err.context or ''} {err.problem or ''}".split())
        line = f" (line {where.line + 1}, column {where.column + 1})" if where else ""
        raise PackError(f"{shown}: is not valid YAML: {clip(problem, 200)}{line}") from None
    except yaml.YAMLError as err:
        raise PackError(f"{shown}: is not valid YAML: "
                        f"{clip(' '.join(str(err).split()), 200)}") from None
    finally:
        loader.dispose()


def load_pack_text(pack_text: str, cases_text: str, *, shown: str = "pack") -> Pack:
    """Load and check a pack from the text of its two files (an upload, a stored version);
    `shown` names the pack in messages, e.g. `upload/pack.yaml: rule ...`."""
    data = _parse_yaml(pack_text, f"{shown}/pack.yaml")
    cases = _parse_yaml(cases_text, f"{shown}/cases.yaml")
    if cases is None:
        raise PackError(f"{shown}/cases.yaml: is empty; every pack ships its cases.")
    return parse_pack(data, cases, source=f"{shown}/pack.yaml",
                      cases_source=f"{shown}/cases.yaml")


def parse_pack(data: Any, cases: Any = None, *, source: str = "pack.yaml",
               cases_source: str = "cases.yaml", folder: Path | None = None) -> Pack:
    """Check pack data (as read from YAML) and its cases; PackError names what is wrong."""
    if not isinstance(data, Mapping):
        raise PackError(f"{source}: must be a mapping with {', '.join(sorted(PACK_KEYS))}.")
    _check_keys(data, PACK_KEYS, PACK_OPTIONAL_KEYS, source)
    pack_id = data["id"]
    if not isinstance(pack_id, str) or not PACK_ID.fullmatch(pack_id):
        raise PackError(f"{source}: id {echo(pack_id)} must be lower case letters, digits, - or _ "
                        "(at most 40).", fields={"id": "invalid"})
    region = data["region"]
    if region not in REGIONS:
        raise PackError(f"{source}: region {echo(region)} must be one of {', '.join(REGIONS)}.",
                        fields={"region": "invalid"})
    version = data["version"]
    if not isinstance(version, str) or not VERSION.fullmatch(version):
        raise PackError(f"{source}: version {echo(version)} must be text like '2024.7.0' or "
                        "'1.2.0-rc1' (quote it in YAML).", fields={"version": "invalid"})
    effective = _effective_date(data["effective_date"], source)
    title = data["title"]
    if not isinstance(title, str) or not title.strip():
        raise PackError(f"{source}: title must be non-empty text.", fields={"title": "invalid"})
    description = data.get("description", "")
    if not isinstance(description, str):
        raise PackError(f"{source}: description must be text.")
    raw_rules = data["rules"]
    if not isinstance(raw_rules, list) or not raw_rules:
        raise PackError(f"{source}: rules must be a non-empty list.", fields={"rules": "empty"})
    rules: list[Rule] = []
    seen: set[str] = set()
    for index, raw_rule in enumerate(raw_rules):
        rule = _parse_rule(raw_rule, index, source)
        if rule.id in seen:
            raise PackError(f"{source}: rule {rule.id}: id is used by another rule of this "
                            "pack.", fields={"rule": rule.id})
        seen.add(rule.id)
        rules.append(rule)
    pack = Pack(id=pack_id, region=region, version=version, effective_date=effective,
                title=title.strip(), rules=tuple(rules), description=description.strip(),
                folder=folder)
    parsed_cases = _parse_cases(cases, pack, cases_source) if cases is not None else ()
    return Pack(id=pack.id, region=pack.region, version=pack.version,
                effective_date=pack.effective_date, title=pack.title, rules=pack.rules,
                cases=parsed_cases, description=pack.description, folder=folder,
                digest=pack_digest(pack))


def pack_digest(pack: Pack) -> str:
    """SHA-256 of what decides: id, region, version, effective date, title and rules."""
    body = {
        "id": pack.id, "region": pack.region, "version": pack.version,
        "effective_date": pack.effective_date.isoformat(), "title": pack.title,
        "rules": [rule.to_data() for rule in pack.rules],
    }
    text = json.dumps(body, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _check_keys(data: Mapping[Any, Any], required: frozenset[str], optional: frozenset[str],
                where: str) -> None:
    unknown = sorted(str(key) for key in data if key not in required | optional)
    if unknown:
        raise PackError(f"{where}: unknown key {clip(', '.join(map(echo, unknown)), 200)}; "
                        f"allowed: {', '.join(sorted(required | optional))}.",
                        fields={key: "unknown" for key in unknown})
    missing = sorted(required - set(data))
    if missing:
        raise PackError(f"{where}: {', '.join(missing)} {'is' if len(missing) == 1 else 'are'} "
                        "missing.", fields={key: "missing" for key in missing})


def _effective_date(value: Any, source: str) -> date:
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
    raise PackError(f"{source}: effective_date {echo(value)} must be a date YYYY-MM-DD.",
                    fields={"effective_date": "invalid"})


def _parse_rule(raw: Any, index: int, source: str) -> Rule:
    if not isinstance(raw, Mapping):
        raise PackError(f"{source}: rules[{index}] must be a mapping.")
    rule_id = raw.get("id")
    if not isinstance(rule_id, str) or not RULE_ID.fullmatch(rule_id) or \
            len(rule_id) > MAX_RULE_ID:
        raise PackError(f"{source}: rules[{index}]: id {echo(rule_id)} must be lower case letters "
                        "and digits joined by '-' or '.', e.g. nmpa-gsp67-temp.",
                        fields={"id": "invalid"})
    where = f"{source}: rule {rule_id}"

    def fail(location: str, reason: str) -> PackError:
        return PackError(f"{where}: {location} {reason}", fields={"rule": rule_id,
                                                                  "field": location})

    _check_keys(raw, RULE_KEYS, RULE_OPTIONAL_KEYS, where)
    step = raw["step"]
    if step not in STEPS:
        raise fail("step", f"{echo(step)} is not a step; steps: {', '.join(STEPS)}")
    try:
        when = parse_condition(raw["when"], STEPS[step])
    except ConditionError as err:
        raise fail(err.location, err.reason) from None
    effect = raw["effect"]
    if effect not in EFFECTS:
        raise fail("effect", f"{echo(effect)} is not an effect; effects: {', '.join(EFFECTS)}")
    params = raw.get("params") or {}
    if not isinstance(params, Mapping):
        raise fail("params", "must be a mapping")
    try:
        checked = _check_params(effect, dict(params))
    except ValueError as err:
        raise fail(*err.args) from None
    message = raw["message"]
    if not isinstance(message, Mapping) or set(message) != {"zh", "en"}:
        raise fail("message", "must have exactly zh and en")
    for language in ("zh", "en"):
        text = message[language]
        if not isinstance(text, str) or not text.strip():
            raise fail(f"message.{language}", "must be non-empty text")
    source_text = raw["source"]
    if not isinstance(source_text, str) or not source_text.strip():
        raise fail("source", "must cite the regulation and article (non-empty text)")
    return Rule(id=rule_id, step=step, when=when, effect=effect, params=checked,
                message_zh=" ".join(message["zh"].split()),
                message_en=" ".join(message["en"].split()), source=source_text.strip())


def _check_params(effect: str, params: dict[str, Any]) -> dict[str, Any]:
    """Params checked for the effect; ValueError(location, reason) when wrong."""

    def allow(*required: str, optional: tuple[str, ...] = ()) -> None:
        unknown = sorted(set(params) - set(required) - set(optional), key=str)
        if unknown:
            allowed = ", ".join(sorted({*required, *optional})) or "none"
            raise ValueError(f"params.{clip(str(unknown[0]))}", f"is not a parameter of {effect} "
                                                     f"(allowed: {allowed})")
        absent = [name for name in required if name not in params]
        if absent:
            raise ValueError(f"params.{absent[0]}", f"is required for {effect}")

    if effect in ("block", "warn"):
        allow()
    elif effect == "require_signature":
        allow("meaning")
        if params["meaning"] not in SIGNATURE_MEANINGS:
            raise ValueError("params.meaning", f"{echo(params['meaning'])} is not a signature "
                                               f"meaning; use {', '.join(SIGNATURE_MEANINGS)}")
    elif effect == "require_second_person":
        allow("of_step")
        if params["of_step"] not in STEPS:
            raise ValueError("params.of_step", f"{echo(params['of_step'])} is not a step")
    elif effect == "quarantine":
        allow("status", optional=("temperature_controlled",))
        if params["status"] not in QUARANTINE_STATUSES:
            raise ValueError("params.status", f"{echo(params['status'])} must be one of "
                                              f"{', '.join(QUARANTINE_STATUSES)}")
        if not isinstance(params.get("temperature_controlled", False), bool):
            raise ValueError("params.temperature_controlled", "must be true or false")
    elif effect == "notify_within":
        _check_deadline(params)
    elif effect == "require_fields":
        allow("fields")
        names = params["fields"]
        if not isinstance(names, list) or not names or not all(
                isinstance(name, str) and FIELD_NAME.fullmatch(name) for name in names):
            raise ValueError("params.fields", "must be a non-empty list of snake_case names")
        if len(set(names)) != len(names):
            raise ValueError("params.fields", "names a field twice")
    return params


def _check_deadline(params: dict[str, Any]) -> None:
    allowed = {"deadline_hours", "deadline_working_days", "notify"}
    unknown = sorted(set(params) - allowed, key=str)
    if unknown:
        raise ValueError(f"params.{clip(str(unknown[0]))}", "is not a parameter of notify_within "
                                                 f"(allowed: {', '.join(sorted(allowed))})")
    given = [name for name in ("deadline_hours", "deadline_working_days") if name in params]
    if len(given) != 1:
        raise ValueError("params", "notify_within needs exactly one of deadline_hours "
                                   "(0 = at once) or deadline_working_days")
    value = params[given[0]]
    if given[0] == "deadline_hours":
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 8760:
            raise ValueError("params.deadline_hours", "must be a number of hours from 0 to 8760")
    elif isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 365:
        raise ValueError("params.deadline_working_days", "must be a whole number from 1 to 365")
    recipients = params.get("notify")
    if not isinstance(recipients, list) or not recipients or not all(
            recipient in RECIPIENTS for recipient in recipients):
        raise ValueError("params.notify", f"must list who to notify, from "
                                          f"{', '.join(RECIPIENTS)}")


def _parse_cases(raw: Any, pack: Pack, source: str) -> tuple[Case, ...]:
    if not isinstance(raw, list) or not raw:
        raise PackError(f"{source}: must be a non-empty list of cases.")
    cases: list[Case] = []
    names: set[str] = set()
    for index, raw_case in enumerate(raw):
        if not isinstance(raw_case, Mapping):
            raise PackError(f"{source}: cases[{index}] must be a mapping.")
        name = raw_case.get("name")
        if not isinstance(name, str) or not name.strip():
            raise PackError(f"{source}: cases[{index}]: name must be non-empty text.")
        where = f"{source}: case {echo(name)}"
        if name in names:
            raise PackError(f"{where}: name is used by another case.")
        names.add(name)
        _check_keys(raw_case, CASE_KEYS, frozenset(), where)
        step = raw_case["step"]
        if step not in STEPS:
            raise PackError(f"{where}: step {echo(step)} is not a step.")
        fact = raw_case["fact"]
        if not isinstance(fact, Mapping):
            raise PackError(f"{where}: fact must be a mapping of field to value.")
        try:
            typed = type_fact(step, fact)
        except FactError as err:
            detail = "; ".join(f"fact field '{key}' {reason}" for key, reason in
                               err.fields.items())
            raise PackError(f"{where}: {detail}", fields=err.fields) from None
        expect = raw_case["expect"]
        if not isinstance(expect, list) or not all(isinstance(rule_id, str)
                                                   for rule_id in expect):
            raise PackError(f"{where}: expect must be a list of rule ids (empty: none fire).")
        step_rules = {rule.id for rule in pack.rules_for(step)}
        for rule_id in expect:
            if rule_id not in step_rules:
                raise PackError(f"{where}: expect names {echo(rule_id)}, which is not a rule of "
                                f"this pack at step {step}.")
        if len(set(expect)) != len(expect):
            raise PackError(f"{where}: expect names a rule twice.")
        cases.append(Case(name=name, step=step, fact=typed, expect=tuple(sorted(expect))))
    return tuple(cases)


def packs_summary(packs: Sequence[Pack]) -> list[dict[str, str]]:
    """Which packs (id, version, digest) took part, for audit records."""
    return [{"id": pack.id, "version": pack.version, "digest": pack.digest} for pack in packs]
