"""The compliance gate: packs compiled to durable-rules rulesets, facts in, a Decision out.

One `Gate` per process (`get_gate()`), holding one durable-rules host that starts no threads.
Each evaluation asserts the typed fact as a *fact* (facts are not consumed, so every matching
rule fires once) under a fresh session id, under a lock, and deletes that session afterwards.
"""

from __future__ import annotations

import copy
import itertools
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import durable_rules_engine
from durable.engine import Closure, Host, MessageNotHandledException

from engine.rules.conditions import to_durable
from engine.rules.decision import Decision, Verdict
from engine.rules.errors import GateError
from engine.rules.facts import type_fact
from engine.rules.pack import Pack, pack_digest

# Every ruleset also holds this rule, matched by a field every asserted fact carries. It makes
# each evaluation run at least one action: durable-rules 2.0.28 frees a session's uninitialised
# action context when a session in which no action ever ran is deleted (a segfault), and the
# sentinel also proves the actions ran. Fact fields start with a letter, so they cannot clash.
SENTINEL_RULE = "_evaluated"
SENTINEL_FIELD = "_gate"
# durable-rules' error code when a session to delete does not exist.
_SID_NOT_FOUND = "error code: 309"


class RulesetHost(Host):  # type: ignore[misc]
    """A durable-rules host for gating: no background threads, one session per evaluation."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self._fired: list[str] | None = None
        self._sids = itertools.count(1)
        super().__init__()

    def _run(self) -> None:
        """Host.__init__ calls this to start its dispatch and timer threads: we start none.

        Those threads would run actions on other threads at any time; every action here runs
        synchronously inside `fire`, under the lock.
        """
        return None

    @property
    def ruleset_names(self) -> list[str]:
        return list(self._ruleset_directory)

    def register(self, name: str, expressions: Mapping[str, Mapping[str, Any]]) -> None:
        """Register a ruleset: rule name -> durable-rules expression (the value of `m`)."""
        rules: dict[str, Any] = {
            rule_name: {"all": [{"m": copy.deepcopy(dict(expression))}],
                        "run": self._recorder(rule_name)}
            for rule_name, expression in expressions.items()
        }
        rules[SENTINEL_RULE] = {"all": [{"m": {SENTINEL_FIELD: 1}}],
                                "run": self._recorder(SENTINEL_RULE)}
        with self.lock:
            if name in self._ruleset_directory:
                raise GateError(f"Ruleset {name} is already registered.")
            try:
                self.register_rulesets({name: rules})
            except durable_rules_engine.error as err:
                raise GateError(f"durable-rules refused ruleset {name}: {err}") from None

    def unregister(self, name: str) -> None:
        """Remove a ruleset and free its engine handle (durable-rules has no public API)."""
        with self.lock:
            ruleset = self._ruleset_directory.pop(name, None)
            if ruleset is None:
                return
            self._ruleset_list.remove(ruleset)
            durable_rules_engine.delete_ruleset(ruleset._handle)

    def fire(self, name: str, fact: Mapping[str, Any]) -> list[str]:
        """Names of the rules of `name` that match `fact`, each once, in firing order."""
        with self.lock:
            sid = str(next(self._sids))
            message = {**fact, "sid": sid, SENTINEL_FIELD: 1}
            fired: list[str] = []
            self._fired = fired
            delete = True
            try:
                state = self.assert_fact(name, message)
            except MessageNotHandledException:
                # No rule matched, not even the sentinel: the ruleset is broken. Deleting a
                # session in which no action ran can crash durable-rules, so it is left.
                state, delete = None, False
            except durable_rules_engine.error as err:
                raise GateError(f"durable-rules refused the fact for {name}: {err}") from None
            finally:
                self._fired = None
                if delete:
                    self._delete_session(name, sid)
        if isinstance(state, Mapping) and state.get("exception"):
            raise GateError(f"A rule action failed in {name}: {state['exception']}")
        if SENTINEL_RULE not in fired:
            raise GateError(f"Ruleset {name} did not evaluate the fact (no action ran).")
        # A rule whose `$or` matches through two list items fires once per item: keep one.
        return [rule for rule in dict.fromkeys(fired) if rule != SENTINEL_RULE]

    def _delete_session(self, name: str, sid: str) -> None:
        try:
            self.delete_state(name, sid)
        except durable_rules_engine.error as err:
            if _SID_NOT_FOUND not in str(err):
                raise

    def _recorder(self, rule_name: str) -> Callable[[Closure], None]:
        def record(c: Closure) -> None:
            if self._fired is None:
                raise GateError(f"Rule {rule_name} fired outside an evaluation.")
            self._fired.append(rule_name)

        return record


def ruleset_name(pack: Pack, step: str) -> str:
    """One ruleset per pack, version and step, so versions coexist in one host."""
    return f"{pack.id}@{pack.version}:{step}"


@dataclass(frozen=True)
class LoadedPack:
    """A pack version registered in the host, and the content it was compiled from."""

    id: str
    version: str
    digest: str
    rulesets: Mapping[str, str]


class Gate:
    """Evaluates typed facts against rule packs; one per process (see `get_gate`)."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._host: RulesetHost | None = None
        self._loaded: dict[tuple[str, str], LoadedPack] = {}

    @property
    def host(self) -> RulesetHost:
        """The durable-rules host, created on first use (never at import)."""
        with self._lock:
            if self._host is None:
                self._host = RulesetHost()
            return self._host

    @property
    def loaded(self) -> list[LoadedPack]:
        with self._lock:
            return list(self._loaded.values())

    def load(self, pack: Pack) -> LoadedPack:
        """Compile and register a pack version; a changed pack of the same version replaces
        the registered one (its rulesets are removed and their engine handles deleted)."""
        digest = pack.digest or pack_digest(pack)
        key = (pack.id, pack.version)
        with self._lock:
            current = self._loaded.get(key)
            if current is not None and current.digest == digest:
                return current
            if current is not None:
                self.unload(pack.id, pack.version)
            host = self.host
            names: dict[str, str] = {}
            try:
                for step in pack.steps:
                    name = ruleset_name(pack, step)
                    host.register(name, {rule.id: to_durable(rule.when)
                                         for rule in pack.rules_for(step)})
                    names[step] = name
            except Exception:
                for name in names.values():
                    host.unregister(name)
                raise
            loaded = LoadedPack(id=pack.id, version=pack.version, digest=digest, rulesets=names)
            self._loaded[key] = loaded
            return loaded

    def unload(self, pack_id: str, version: str) -> None:
        """Remove a pack version from the host (no-op if it is not loaded)."""
        with self._lock:
            loaded = self._loaded.pop((pack_id, version), None)
            if loaded is None or self._host is None:
                return
            for name in loaded.rulesets.values():
                self._host.unregister(name)

    def close(self) -> None:
        """Unload every pack (engine handles freed); the gate may be used again after."""
        with self._lock:
            for pack_id, version in list(self._loaded):
                self.unload(pack_id, version)

    def evaluate(self, step: str, fact: Mapping[str, Any], packs: Sequence[Pack]) -> Decision:
        """Type the fact, evaluate it against every pack, and merge all verdicts."""
        typed = type_fact(step, fact)
        seen: dict[str, str] = {}
        for pack in packs:
            if not isinstance(pack, Pack):
                raise TypeError(f"packs must hold Pack objects, got {type(pack).__name__}")
            if pack.id in seen:
                raise GateError(f"Pack {pack.id} is given twice (versions {seen[pack.id]} and "
                                f"{pack.version}); a site has one active version per pack.")
            seen[pack.id] = pack.version
        verdicts: list[Verdict] = []
        with self._lock:
            for pack in packs:
                rules = pack.rules_for(step)
                if not rules:
                    continue
                loaded = self.load(pack)
                fired = set(self.host.fire(loaded.rulesets[step], typed))
                verdicts.extend(Verdict.of(rule, pack) for rule in rules if rule.id in fired)
        return Decision(step=step, verdicts=tuple(verdicts),
                        packs=tuple((pack.id, pack.version) for pack in packs), fact=typed)


_gate: Gate | None = None
_gate_lock = threading.Lock()


def get_gate() -> Gate:
    """The process's one gate, created on first call."""
    global _gate
    with _gate_lock:
        if _gate is None:
            _gate = Gate()
        return _gate
