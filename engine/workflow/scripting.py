"""The restricted script engine: BPMN scripts and expressions run under RestrictedPython.

SpiffWorkflow's own engine calls `exec`/`eval` with full builtins, so any BPMN author could run
code on the server. Here every script (exec mode) and every condition, timer or payload
expression (eval mode) is compiled with RestrictedPython's `compile_restricted_*` and a stricter
policy, and runs with guarded attribute, item, iteration and write access and a small set of
builtins and date/decimal helpers. What this does not bound is CPU time and memory: a script can
still loop for long, so jobs that run engine steps need their own time limits.
"""

from __future__ import annotations

import ast
import functools
import operator
import threading
import traceback
import warnings
from collections.abc import Callable, Iterable, Mapping, MutableMapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any, Final, Literal

from RestrictedPython import compile_restricted_eval, compile_restricted_exec
from RestrictedPython.Guards import (
    full_write_guard,
    guarded_iter_unpack_sequence,
    guarded_unpack_sequence,
    safe_builtins,
    safer_getattr_raise,
)
from RestrictedPython.transformer import RestrictingNodeTransformer
from SpiffWorkflow.bpmn.exceptions import WorkflowTaskException
from SpiffWorkflow.bpmn.script_engine import BasePythonScriptEngineEnvironment, PythonScriptEngine
from SpiffWorkflow.exceptions import SpiffWorkflowException

from engine.errors import Bilingual

Mode = Literal["exec", "eval"]

#: Code objects carry these file names, so a traceback frame can be traced to the BPMN source.
SCRIPT_FILENAME: Final = "<bpmn script>"
EXPRESSION_FILENAME: Final = "<bpmn expression>"

#: Longest `range()` a script may build; longer ones are refused rather than allocated.
MAX_RANGE: Final = 100_000
#: How deep a value written to task data may nest before it is refused.
MAX_DATA_DEPTH: Final = 32

#: Names a script may never use, not even as its own variable: they are escape hatches in
#: plain Python and do not exist here. Listing them gives a clear refusal at compile time
#: instead of a NameError at run time.
FORBIDDEN_NAMES: Final = frozenset({
    "eval", "exec", "compile", "globals", "locals", "vars", "type", "getattr", "setattr",
    "delattr", "hasattr", "open", "dir", "memoryview", "super", "breakpoint", "print",
    "printed", "builtins",
})

#: Attributes refused at run time on top of RestrictedPython's rules (no leading `_`, no
#: frame/code/traceback attributes, no `str.format`). `mro` would reach `object`.
_FORBIDDEN_ATTRIBUTES: Final = frozenset({"mro", "format", "format_map"})

_KEPT_SAFE_BUILTINS: Final = (
    "None", "False", "True", "abs", "bool", "chr", "divmod", "float", "hash", "hex", "int",
    "isinstance", "len", "oct", "ord", "repr", "round", "slice", "str", "complex",
    "ArithmeticError", "AssertionError", "AttributeError", "Exception", "IndexError",
    "KeyError", "LookupError", "NameError", "NotImplementedError", "OverflowError",
    "RuntimeError", "StopIteration", "TypeError", "UnicodeError", "ValueError",
    "ZeroDivisionError",
)


class ScriptRefused(ValueError):
    """The restricted compiler refused a script or expression; `reasons` says why."""

    def __init__(self, source: str, mode: Mode, reasons: Iterable[str]) -> None:
        self.source = source
        self.mode = mode
        self.reasons = tuple(reasons)
        what = "script" if mode == "exec" else "expression"
        super().__init__(f"The {what} is not allowed: " + "; ".join(self.reasons))


class ScriptError(WorkflowTaskException):
    """A script or expression of a task was refused or failed; names the element and reason."""

    def __init__(
        self,
        message: str,
        *,
        task: Any,
        element_id: str,
        reason: str,
        refused: bool,
        exception: BaseException | None = None,
        line_number: int | None = None,
        error_line: str | None = None,
    ) -> None:
        super().__init__(
            message, task=task, exception=exception, line_number=line_number,
            error_line=error_line,
        )
        self.element_id = element_id
        self.reason = reason
        self.refused = refused


# --- compile -----------------------------------------------------------------------------


def chinese(text: str) -> str:
    """A reason in Chinese: what a Bilingual carries, else the text as it is (Python's,
    RestrictedPython's and SpiffWorkflow's own messages stay English)."""
    return getattr(text, "zh", None) or str(text)


class _GxpPolicy(RestrictingNodeTransformer):
    """RestrictedPython's policy, plus: no imports, no classes, no escape-hatch builtins."""

    def error(self, node: ast.AST, info: str, zh: str | None = None) -> None:
        """Record a refusal as RestrictedPython does ("Line 3: ..."), with its Chinese: ours
        in full, RestrictedPython's own text (`zh` None) only behind a Chinese line number."""
        lineno = getattr(node, "lineno", None)
        where = f"第 {lineno} 行：" if lineno is not None else ""
        self.errors.append(Bilingual(f"Line {lineno}: {info}", where + (zh or info)))

    def check_name(self, node: Any, name: str | None, allow_magic_methods: bool = False) -> None:
        super().check_name(node, name, allow_magic_methods)
        if name in FORBIDDEN_NAMES:
            self.error(node, f'"{name}" is not available in process scripts.',
                       f'流程脚本中不能使用 "{name}"。')

    def visit_Name(self, node: ast.Name) -> Any:
        if node.id in FORBIDDEN_NAMES:  # `print` is rewritten before check_name sees it
            self.error(node, f'"{node.id}" is not available in process scripts.',
                       f'流程脚本中不能使用 "{node.id}"。')
            return node
        return super().visit_Name(node)

    def visit_Import(self, node: ast.Import) -> Any:
        self.error(node, "import statements are not allowed; date, datetime, timedelta, "
                         "timezone, UTC, Decimal, now_utc() and today() are already there.",
                   "不允许使用 import 语句：date、datetime、timedelta、timezone、UTC、Decimal、"
                   "now_utc() 和 today() 已可直接使用。")
        return node

    def visit_ImportFrom(self, node: ast.ImportFrom) -> Any:
        self.error(node, "import statements are not allowed.", "不允许使用 import 语句。")
        return node

    def visit_ClassDef(self, node: ast.ClassDef) -> Any:
        self.error(node, "class definitions are not allowed in process scripts.",
                   "流程脚本中不允许定义类。")
        return node


@dataclass(frozen=True, slots=True)
class _Compiled:
    code: Any
    errors: tuple[str, ...]


_COMPILE_LOCK: Final = threading.Lock()


@functools.lru_cache(maxsize=4096)
def _compile(source: str, mode: Mode) -> _Compiled:
    """Compile once per (source text, mode); refusals are cached the same way as code."""
    compiler = compile_restricted_exec if mode == "exec" else compile_restricted_eval
    filename = SCRIPT_FILENAME if mode == "exec" else EXPRESSION_FILENAME
    try:
        # The compiler's own warnings (invalid escapes, `is` with a literal) are ignored, the same
        # whatever the process-wide filters say (pytest -W error turns them into refusals).
        # catch_warnings is process-wide: the lock keeps two compiles from restoring each
        # other's filters, and "ignore" can at worst hide another thread's warning briefly.
        with _COMPILE_LOCK, warnings.catch_warnings():
            warnings.simplefilter("ignore")
            result = compiler(source, filename=filename, policy=_GxpPolicy)
    except (SyntaxError, ValueError, RecursionError, MemoryError, TypeError) as err:
        return _Compiled(None, (f"{type(err).__name__}: {err}",))
    if result.errors or result.code is None:
        return _Compiled(None, tuple(result.errors)
                         or (Bilingual("the source does not compile", "源代码无法编译"),))
    return _Compiled(result.code, ())


def script_problems(source: str | None) -> list[str]:
    """Why a script (exec mode) would be refused; empty when it compiles."""
    return list(_compile(source or "", "exec").errors)


def expression_problems(source: str | None) -> list[str]:
    """Why an expression (eval mode) would be refused; empty when it compiles."""
    if source is None or not source.strip():
        return [Bilingual("the expression is empty", "表达式为空")]
    return list(_compile(source.strip(), "eval").errors)


def compile_script(source: str | None) -> Any:
    compiled = _compile(source or "", "exec")
    if compiled.code is None:
        raise ScriptRefused(source or "", "exec", compiled.errors)
    return compiled.code


def compile_expression(source: str | None) -> Any:
    problems = expression_problems(source)
    if problems:
        raise ScriptRefused(source or "", "eval", problems)
    return _compile((source or "").strip(), "eval").code


# --- run-time guards ----------------------------------------------------------------------


def _guarded_getattr(obj: Any, name: str) -> Any:
    if isinstance(name, str) and name in _FORBIDDEN_ATTRIBUTES:
        raise AttributeError(f'"{name}" is not available in process scripts')
    return safer_getattr_raise(obj, name)


def _guarded_getitem(obj: Any, index: Any) -> Any:
    if isinstance(obj, type):
        raise TypeError("subscripting types is not available in process scripts")
    return obj[index]


def _guarded_getiter(obj: Any) -> Any:
    return iter(obj)


_INPLACE_OPERATORS: Final[dict[str, Callable[[Any, Any], Any]]] = {
    "+=": operator.iadd, "-=": operator.isub, "*=": operator.imul, "/=": operator.itruediv,
    "//=": operator.ifloordiv, "%=": operator.imod, "**=": operator.ipow,
    "<<=": operator.ilshift, ">>=": operator.irshift, "|=": operator.ior,
    "^=": operator.ixor, "&=": operator.iand, "@=": operator.imatmul,
}


def _inplacevar(op: str, target: Any, value: Any) -> Any:
    try:
        return _INPLACE_OPERATORS[op](target, value)
    except KeyError:
        raise TypeError(f"the operator {op} is not available in process scripts") from None


def _apply(func: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    return func(*args, **kwargs)


def _bounded_range(*args: int) -> range:
    result = range(*args)
    if len(result) > MAX_RANGE:
        raise ValueError(f"range() of more than {MAX_RANGE} numbers is not allowed")
    return result


#: Modules C code imports on a script's behalf (date.today, strftime need `time`; strptime
#: needs `_strptime`). Such imports look up `__import__` in the calling script's builtins;
#: scripts themselves cannot name `__import__` (no names starting with `_`).
_INTERNAL_IMPORTS: Final = frozenset({"time", "_strptime"})


def _internal_import(name: str, *args: Any, **kwargs: Any) -> Any:
    if name not in _INTERNAL_IMPORTS:
        raise ImportError(f"importing {name} is not available in process scripts")
    return __import__(name, *args, **kwargs)


def now_utc() -> datetime:
    """The server's clock, in UTC, with its zone."""
    return datetime.now(UTC)


def today() -> date:
    """Today's date in UTC (the server's clock is the only one trusted)."""
    return now_utc().date()


def _builtins() -> dict[str, Any]:
    names = {name: safe_builtins[name] for name in _KEPT_SAFE_BUILTINS}
    names.update({
        "len": len, "min": min, "max": max, "sum": sum, "sorted": sorted, "round": round,
        "abs": abs, "any": any, "all": all, "str": str, "int": int, "float": float,
        "bool": bool, "list": list, "dict": dict, "set": set, "tuple": tuple,
        "range": _bounded_range, "enumerate": enumerate, "zip": zip, "reversed": reversed,
        "frozenset": frozenset, "__import__": _internal_import,
    })
    return names


#: What scripts see besides their task data; task data may shadow a helper name.
HELPERS: Final[Mapping[str, Any]] = {
    "date": date, "datetime": datetime, "timedelta": timedelta, "timezone": timezone,
    "UTC": UTC, "Decimal": Decimal, "now_utc": now_utc, "today": today,
}

_GUARDS: Final[Mapping[str, Any]] = {
    "__builtins__": _builtins(),
    "_getattr_": _guarded_getattr,
    "_getitem_": _guarded_getitem,
    "_getiter_": _guarded_getiter,
    "_iter_unpack_sequence_": guarded_iter_unpack_sequence,
    "_unpack_sequence_": guarded_unpack_sequence,
    "_write_": full_write_guard,
    "_inplacevar_": _inplacevar,
    "_apply_": _apply,
}

#: Names a task-data variable (and so a form field) should not take: builtins, helpers and
#: the names refused outright.
RESERVED_NAMES: Final = frozenset(HELPERS) | frozenset(_GUARDS["__builtins__"]) | FORBIDDEN_NAMES


# --- the environment SpiffWorkflow calls ------------------------------------------------------

_STORABLE_SCALARS: Final = (str, int, float, bool, type(None), Decimal, date, datetime, timedelta)


class NotStorable(TypeError):
    """A value cannot be kept in task data (which is saved as JSON)."""


def as_task_data(value: Any, depth: int = 0) -> Any:
    """`value` as task data keeps it: tuples and sets become lists (sets sorted), so a value
    reads the same before and after the workflow is saved. Raises NotStorable."""
    if depth > MAX_DATA_DEPTH:
        raise NotStorable(f"it nests deeper than {MAX_DATA_DEPTH} levels")
    if isinstance(value, _STORABLE_SCALARS):
        return value
    if isinstance(value, dict):
        result = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise NotStorable(f"it has a {type(key).__name__} key; task data keys are text")
            result[key] = as_task_data(item, depth + 1)
        return result
    if isinstance(value, list | tuple):
        return [as_task_data(item, depth + 1) for item in value]
    if isinstance(value, set | frozenset):
        items = [as_task_data(item, depth + 1) for item in value]
        try:
            return sorted(items)
        except TypeError:
            return sorted(items, key=repr)
    raise NotStorable(f"a {type(value).__name__} cannot be stored in task data")


class RestrictedEnvironment(BasePythonScriptEngineEnvironment):  # type: ignore[misc]
    """Runs compiled scripts and expressions against task data under the guards.

    SpiffWorkflow calls `environment.evaluate` directly in a few places (message correlations,
    ad hoc subprocess completion), so the restriction lives here and not only in the engine.
    """

    def __init__(self, helpers: Mapping[str, Any] | None = None) -> None:
        super().__init__(dict(HELPERS if helpers is None else helpers))

    def _namespace(
        self, context: Mapping[str, Any], external_context: Mapping[str, Any] | None
    ) -> dict[str, Any]:
        namespace = dict(self.globals)
        namespace.update(external_context or {})
        namespace.update(context)
        namespace.update(_GUARDS)  # last: task data never replaces a guard
        return namespace

    def evaluate(
        self,
        expression: str,
        context: Mapping[str, Any],
        external_context: Mapping[str, Any] | None = None,
    ) -> Any:
        code = compile_expression(expression)
        return eval(code, self._namespace(context, external_context))  # noqa: S307

    def execute(
        self,
        script: str,
        context: MutableMapping[str, Any],
        external_context: Mapping[str, Any] | None = None,
    ) -> bool:
        code = compile_script(script)
        external = dict(external_context or {})
        namespace = self._namespace(context, external)
        exec(code, namespace)  # noqa: S102
        self._write_back(namespace, context, external)
        return True

    def _write_back(
        self,
        namespace: Mapping[str, Any],
        context: MutableMapping[str, Any],
        external: Mapping[str, Any],
    ) -> None:
        results: dict[str, Any] = {}
        for key, value in namespace.items():
            if key.startswith("_"):
                continue
            injected = self.globals.get(key, external.get(key))
            if key not in context and (key in self.globals or key in external) and (
                value is injected
            ):
                continue
            if callable(value):
                continue  # functions and classes a script defined or aliased
            try:
                results[key] = as_task_data(value)
            except NotStorable as err:
                raise NotStorable(f"the variable '{key}' cannot be kept: {err}") from None
        for key in [key for key in context if key not in results and not key.startswith("_")]:
            del context[key]
        context.update(results)

    def call_service(self, context: Mapping[str, Any], **kwargs: Any) -> Any:
        raise NotImplementedError("no service connector is configured for service tasks")


# --- the engine -------------------------------------------------------------------------------


def _element(task: Any) -> tuple[str, str]:
    spec = task.task_spec
    element_id = getattr(spec, "bpmn_id", None) or spec.name
    name = getattr(spec, "bpmn_name", None)
    label = f"'{element_id}'" + (f" ({name})" if name else "")
    return str(element_id), label


def _error_line(source: str, err: BaseException) -> tuple[int | None, str | None]:
    if isinstance(err, SyntaxError):
        line_number = err.lineno
    else:
        line_number = None
        for frame in traceback.extract_tb(err.__traceback__):
            if frame.filename in (SCRIPT_FILENAME, EXPRESSION_FILENAME):
                line_number = frame.lineno
    lines = source.splitlines()
    if line_number and 0 < line_number <= len(lines):
        return line_number, lines[line_number - 1].strip()
    return line_number, None


class RestrictedScriptEngine(PythonScriptEngine):  # type: ignore[misc]
    """SpiffWorkflow's script engine with the restricted environment and clear errors.

    Attach it to every workflow, and again after every deserialize: a restored workflow gets
    SpiffWorkflow's unrestricted default engine.
    """

    def __init__(self, environment: RestrictedEnvironment | None = None) -> None:
        super().__init__(environment=environment or RestrictedEnvironment())

    def validate(self, expression: str) -> None:
        """Used by SpiffWorkflow (DMN) to check an expression before use."""
        compile_expression(expression)

    def evaluate(
        self, task: Any, expression: str, external_context: Mapping[str, Any] | None = None
    ) -> Any:
        try:
            return self.environment.evaluate(expression, task.data, external_context)
        except SpiffWorkflowException as err:
            err.add_note(f"Error evaluating expression '{expression}'")
            raise
        except (KeyboardInterrupt, SystemExit):
            raise
        except BaseException as err:  # a script may raise anything it can reach
            raise self._script_error(task, "Expression", expression, err) from err

    def execute(
        self, task: Any, script: str, external_context: Mapping[str, Any] | None = None
    ) -> bool:
        try:
            return bool(self.environment.execute(script, task.data, external_context or {}))
        except SpiffWorkflowException:
            raise
        except (KeyboardInterrupt, SystemExit):
            raise
        except BaseException as err:
            raise self._script_error(task, "Script", script, err) from err

    def call_service(self, task: Any, **kwargs: Any) -> Any:
        element_id, label = _element(task)
        reason = "no service connector is configured for service tasks"
        raise ScriptError(
            f"Service task {label} failed: {reason}", task=task, element_id=element_id,
            reason=reason, refused=True,
        )

    @staticmethod
    def _script_error(task: Any, kind: str, source: str, err: BaseException) -> ScriptError:
        element_id, label = _element(task)
        if isinstance(err, ScriptRefused):
            reason = "; ".join(err.reasons)
            where = f"'{source.strip()}' of {label}" if kind == "Expression" else f"of {label}"
            return ScriptError(
                f"{kind} {where} refused: {reason}", task=task, element_id=element_id,
                reason=reason, refused=True, exception=err,
            )
        line_number, error_line = _error_line(source, err)
        reason = f"{type(err).__name__}: {err}"
        if kind == "Expression":
            message = f"Expression '{source.strip()}' of {label} failed: {reason}"
        else:
            at = f" on line {line_number} ('{error_line}')" if error_line else ""
            message = f"Script of {label} failed{at}: {reason}"
        return ScriptError(
            message, task=task, element_id=element_id, reason=reason, refused=False,
            exception=err, line_number=line_number, error_line=error_line,
        )
