"""Every refusal a person meets in these engine modules has its Chinese: constant text in the
message catalog, text made at run time with `zh=` (or as a `Bilingual`). A new English-only
refusal fails here, unless it is listed below with the reason nobody meets it on a page."""

from __future__ import annotations

import ast
import importlib
import inspect
from collections.abc import Callable, Iterator
from types import ModuleType, SimpleNamespace
from typing import Any

import pytest
from flask import Flask

from engine.errors import Bilingual, GxpError
from engine.workflow.forms import FormInvalid
from web.i18n import CATALOG, refusal

MODULES = (
    "engine.identity.service", "engine.recall.service", "engine.recall.jobs",
    "engine.recall.holds", "engine.ledger.counts", "engine.ledger.temperature",
    "engine.ledger.trace", "engine.ledger.expiry", "engine.rules.store", "engine.signatures",
    "engine.attachments", "engine.processes.release", "engine.processes.outbound",
    "engine.processes.stockfacts", "engine.processes.receiving", "engine.tracking.service",
    "engine.tracking.jobs",
)
_QUEUE = "a message on the task queue from another system: no person reads it"
_CLI = "the command line (gxpflow rules, gxpflow demo), which speaks English"
#: Refusals left in English on purpose, by module and their English text ({} for a value).
ENGLISH = {
    ("engine.recall.jobs", "A message must carry an idempotency_key."): _QUEUE,
    ("engine.recall.jobs", "No active user {} to start the recall as."): _QUEUE,
    ("engine.recall.jobs", "No product with code or GTIN {}."): _QUEUE,
    ("engine.rules.store", "{} is not a pack name (lower case letters, digits, - and _) nor a "
                           "folder path."): _CLI,
    ("engine.rules.store", "{}/{}: no such file; a pack is a folder holding pack.yaml and "
                           "cases.yaml."): _CLI,
    ("engine.rules.store", "{}/{}: larger than {} bytes."): _CLI,
    ("engine.rules.store", "No stored version {}; `gxpflow rules list` shows them."): _CLI,
    ("engine.rules.store", "{}: cases fail; the demo does not activate it."): _CLI,
    ("engine.rules.store", "{}/pack.yaml: durable-rules cannot compile it: {}"):
        "what is wrong in the rule file, for the compliance officers who write it (as the "
        "rule files' syntax refusals of engine.rules.pack)",
    ("engine.signatures", "Unknown signature meaning {}."):
        "a programming error: the code names the meaning, never a person",
}


@pytest.fixture
def app(app_session: Flask) -> Flask:
    """The suite's app (every feature's messages registered); these tests touch no table."""
    return app_session


def _template(message: ast.expr) -> str | None:
    """A message's English as written, with {} for each value; None when it is not text."""
    if isinstance(message, ast.Constant) and isinstance(message.value, str):
        return message.value
    if isinstance(message, ast.JoinedStr):
        return "".join(part.value if isinstance(part, ast.Constant) else "{}"
                       for part in message.values)
    return None


def _refusals(module: ModuleType) -> Iterator[tuple[int, ast.Call]]:
    """The calls making a GxpError with a message (FormInvalid carries both languages)."""
    known = vars(importlib.import_module("engine.errors"))
    for node in ast.walk(ast.parse(inspect.getsource(module))):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.args):
            continue
        made = getattr(module, node.func.id, None) or known.get(node.func.id)
        if (isinstance(made, type) and issubclass(made, GxpError)
                and not issubclass(made, FormInvalid)):
            yield node.lineno, node


def _has_chinese(module: ModuleType, call: ast.Call) -> bool:
    if any(keyword.arg == "zh" for keyword in call.keywords):
        return True
    message = call.args[0]
    if isinstance(message, ast.Name):
        value = getattr(module, message.id, None)
        # a refusal handed in by the caller (a parameter) is checked where it is named
        return value in CATALOG["zh"] if isinstance(value, str) else value is None
    if isinstance(message, ast.Call) and isinstance(message.func, ast.Name):
        made = getattr(module, message.func.id, None)
        return made is Bilingual or (callable(made) and inspect.signature(made)
                                     .return_annotation in (Bilingual, "Bilingual"))
    text = _template(message)
    return text is not None and "{}" not in text and text in CATALOG["zh"]


def test_every_refusal_a_person_meets_has_its_chinese(app: Flask) -> None:
    english_only, seen = [], set()
    for name in MODULES:
        module = importlib.import_module(name)
        for line, call in _refusals(module):
            if _has_chinese(module, call):
                continue
            key = (name, _template(call.args[0]) or ast.unparse(call.args[0]))
            seen.add(key)
            if key not in ENGLISH:
                english_only.append(f"{name}:{line} {key[1]}")
    assert english_only == []
    assert set(ENGLISH) == seen, "a refusal listed as English on purpose is gone: unlist it"


def test_the_administrators_fixed_refusals_are_in_the_catalog(app: Flask) -> None:
    from engine.identity import service as identity

    for text in (identity.LAST_ADMINISTRATOR_REVOKE, identity.LAST_ADMINISTRATOR_DEACTIVATE,
                 identity.OWN_GRANT, identity.OWN_REVOKE, identity.OWN_TRAINING):
        assert text in CATALOG["zh"], text


def _refused(act: Callable[[], Any]) -> GxpError:
    with pytest.raises(GxpError) as refused:
        act()
    return refused.value


def test_a_step_refuses_in_the_performers_language(app: Flask) -> None:
    from engine.processes import outbound, receiving, release, stockfacts

    unsited = SimpleNamespace(instance=SimpleNamespace(site_code=None))
    cases = {
        "出库复核未完成或未通过，货物不能发货。": lambda: outbound.ship_effect(
            SimpleNamespace(facts={"check_completed": False}), None),  # type: ignore[arg-type]
        "此流程没有可验收的收货记录（到货未登记）。": lambda: receiving.rejected_lines({}, {}),
        "没有可执行的放行决定。": lambda: release.execute_effect(
            SimpleNamespace(task=SimpleNamespace(data={})), None),  # type: ignore[arg-type]
        "此流程发起时未指定仓库；请为库存所在的仓库重新发起。": lambda: stockfacts.site_of(
            unsited),  # type: ignore[arg-type]
    }
    for chinese, act in cases.items():
        error = _refused(act)
        with app.test_request_context(headers={"Accept-Language": "zh-CN"}):
            assert refusal(error) == chinese
        with app.test_request_context(headers={"Accept-Language": "en"}):
            assert refusal(error) == error.message


def test_why_stock_falls_short_is_said_in_both_languages() -> None:
    from engine.processes.stockfacts import Plan

    short = Plan(lines=[], short=True, available=0, held_status="recalled", picked=80)
    assert short.shortfall() == " (other stock is recalled; 80 are picked for other orders)"
    assert short.shortfall_zh() == "（其余库存为召回冻结状态；80 件已为其他订单拣货）"
    assert Plan(lines=[], short=True, available=3, held_status=None).shortfall_zh() == ""
