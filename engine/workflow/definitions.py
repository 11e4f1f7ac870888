"""Process definitions: check a BPMN file before it is deployed, and load it for the runtime.

`validate_bpmn` never raises for bad input: any bytes give either an ok result or a list of
problems, each naming the element and the reason. The conventions it checks:

- the file holds exactly one executable process, or marks its main process with the spiff
  extension property `main` = `true` on the process element;
- every user or manual task carries the spiff extension property `step` (the compliance step,
  e.g. `receiving.inspect`) and lies in a lane whose name is a role id (`inspector`) or ends
  with the role id in parentheses (`Inspector (inspector)`, full-width `（inspector）` too);
- optional task properties: `form` (JSON, see engine.workflow.forms), `four_eyes_with` (a step
  whose performer must be someone else), `due_hours` (a positive number) and `signature` (the
  meaning of the e-signature the step requires, one of SIGNATURE_MEANINGS);
- every script, condition and expression compiles under the restricted script engine;
- call activities call a process of this file or one named in `called_processes`;
- no element uses an id SpiffWorkflow keeps for its own task specs (RESERVED_IDS, and
  `<process id>.EndJoin`), and the file is UTF-8 (it is stored and shown as text).
"""

from __future__ import annotations

import functools
import keyword
import math
import re
import threading
from collections.abc import Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from lxml import etree
from SpiffWorkflow.bpmn.parser.ValidationException import ValidationException
from SpiffWorkflow.bpmn.specs.bpmn_process_spec import BpmnProcessSpec
from SpiffWorkflow.bpmn.specs.mixins.subworkflow_task import CallActivity
from SpiffWorkflow.spiff.parser.process import VALIDATOR, SpiffBpmnParser

from engine.errors import Bilingual, InvalidInput, clip
from engine.workflow.expressions import element_expression_problems
from engine.workflow.forms import FormSpec, FormSpecInvalid, parse_form
from engine.workflow.scripting import chinese, expression_problems

ROLE_IDS: Final = frozenset({
    "receiving_clerk", "inspector", "warehouse_operator", "quality_manager",
    "compliance_officer", "process_owner", "administrator", "auditor", "api_client",
})
#: The meanings engine.signatures accepts (kept here so this module needs no database).
SIGNATURE_MEANINGS: Final = frozenset(
    {"authored", "reviewed", "approved", "released", "responsible", "performed", "verified"}
)

#: The element id used for problems of the document as a whole.
DOCUMENT: Final = "(document)"
MAX_BPMN_BYTES: Final = 5_000_000
MAX_ELEMENTS: Final = 20_000
MAX_DEPTH: Final = 64
MAX_PROBLEMS: Final = 200
#: Longer than this, a due time is a typo: ten years.
MAX_DUE_HOURS: Final = 87_600.0

BPMN_NS: Final = "http://www.omg.org/spec/BPMN/20100524/MODEL"
SPIFF_NS: Final = "http://spiffworkflow.org/bpmn/schema/1.0/core"
_NS: Final = {"bpmn": BPMN_NS, "spiffworkflow": SPIFF_NS}

STEP_PATTERN: Final = re.compile(r"[a-z][a-z0-9_]*(?:\.[a-z0-9_]+)+")
_LANE_ROLE: Final = re.compile(r".*[(（]\s*([a-z_]+)\s*[)）]")
_XSD_LOCK: Final = threading.Lock()
#: A DOCTYPE (and so any entity) is refused before parsing, in any of XML's encodings.
_DOCTYPE_MARKERS: Final = tuple(
    "<!DOCTYPE".encode(encoding) for encoding in ("utf-8", "utf-16-le", "utf-16-be", "utf-32-le",
                                                  "utf-32-be")
)
_NO_DOCTYPE: Final = Bilingual("DOCTYPE declarations (DTDs, entities) are not allowed.",
                               "不允许 DOCTYPE 声明（DTD、实体）。")
#: Ids SpiffWorkflow gives its own task specs in every process; an element with one of them
#: would replace that spec and the process would start or end wrongly.
RESERVED_IDS: Final = frozenset({"Start", "End"})
_HUMAN_TASK_KINDS: Final = {
    "UserTask": Bilingual("user task", "用户任务"),
    "ManualTask": Bilingual("manual task", "手工任务"),
    "NoneTask": Bilingual("untyped task (it waits for a person, like a user task)",
                          "无类型任务（与用户任务一样等待人工处理）"),
}
_TASK: Final = Bilingual("task", "任务")
#: What SpiffWorkflow says of a task with several outgoing flows (it leaves the type out).
_SEVERAL_OUTGOING: Final = "Multiple outgoing flows are not supported for tasks of type"


#: How much of an element id and of a reason a Problem keeps.
MAX_ID_SHOWN = 120
MAX_REASON_SHOWN = 1000


@dataclass(frozen=True)
class Problem:
    """One reason a definition cannot be deployed, at one element (or DOCUMENT)."""

    element_id: str
    reason: str
    line: int | None = None

    def __post_init__(self) -> None:
        # A refusal quotes the file (ids, property values, parser messages): a crafted file
        # must not make it megabytes long. A reason in two languages is clipped in both.
        object.__setattr__(self, "element_id", clip(self.element_id, MAX_ID_SHOWN))
        reason = self.reason
        if isinstance(reason, Bilingual):
            reason = Bilingual(clip(reason, MAX_REASON_SHOWN), clip(reason.zh, MAX_REASON_SHOWN))
        object.__setattr__(self, "reason", clip(reason, MAX_REASON_SHOWN))

    def __str__(self) -> str:
        where = f" (line {self.line})" if self.line else ""
        return f"{self.element_id}{where}: {self.reason}"


@dataclass
class ValidationResult:
    """What validate_bpmn found: the main process (id and name) and the problems, if any."""

    process_key: str | None = None
    problems: list[Problem] = field(default_factory=list)
    process_name: str | None = None

    @property
    def ok(self) -> bool:
        return not self.problems and self.process_key is not None


class DefinitionInvalid(InvalidInput):
    """A BPMN definition cannot be used; `problems` lists why, element by element."""

    code = "invalid_definition"

    def __init__(self, message: str, problems: Iterable[Problem] = ()) -> None:
        self.problems = list(problems)
        super().__init__(
            message, fields={problem.element_id: problem.reason for problem in self.problems}
        )


@dataclass(frozen=True)
class UserTaskMeta:
    """What GxPFlow reads from a user task: its step, role, form and rules."""

    step: str
    role: str | None
    form: FormSpec | None
    four_eyes_with: str | None
    due_hours: float | None
    signature_meaning: str | None
    lane: str | None = None


def role_for_lane(lane: str | None) -> str | None:
    """The role id a lane name stands for, or None when it names no known role."""
    if not lane:
        return None
    name = lane.strip()
    match = _LANE_ROLE.fullmatch(name)
    role = match.group(1) if match else name
    return role if role in ROLE_IDS else None


# --- parsing safely ---------------------------------------------------------------------------


def _xml_parser() -> etree.XMLParser:
    # No entities, no DTD, no network, no huge-tree mode: the classic XXE and expansion attacks
    # find nothing to resolve.
    return etree.XMLParser(
        resolve_entities=False, no_network=True, load_dtd=False, dtd_validation=False,
        huge_tree=False, remove_pis=True,
    )


def parse_document(xml: bytes) -> tuple[Any, list[Problem]]:
    """Parse BPMN bytes safely; returns (root, []) or (None, problems). Never raises."""
    try:
        return _parse_document(xml)
    except Exception as err:  # any input must come back as a problem
        error = f"{type(err).__name__}: {err}"
        return None, [Problem(DOCUMENT, Bilingual(f"The file cannot be read: {error}",
                                                  f"无法读取文件：{error}"))]


def _parse_document(xml: bytes) -> tuple[Any, list[Problem]]:
    if isinstance(xml, str):
        xml = xml.encode("utf-8")
    if not isinstance(xml, bytes | bytearray) or not bytes(xml).strip():
        return None, [Problem(DOCUMENT, Bilingual("The file is empty.", "文件为空。"))]
    if len(xml) > MAX_BPMN_BYTES:
        return None, [Problem(DOCUMENT, Bilingual(
            f"The file is larger than {MAX_BPMN_BYTES} bytes.",
            f"文件超过 {MAX_BPMN_BYTES} 字节。"))]
    if any(marker in xml for marker in _DOCTYPE_MARKERS):
        return None, [Problem(DOCUMENT, _NO_DOCTYPE)]
    try:
        root = etree.fromstring(bytes(xml), _xml_parser())
    except etree.XMLSyntaxError as err:
        return None, [Problem(DOCUMENT, Bilingual(f"The file is not well-formed XML: {err.msg}",
                                                  f"文件不是格式正确的 XML：{err.msg}"),
                              err.lineno or None)]
    if root is None:
        return None, [Problem(DOCUMENT, Bilingual("The file holds no XML element.",
                                                  "文件中没有 XML 元素。"))]
    docinfo = root.getroottree().docinfo
    if docinfo.doctype or docinfo.internalDTD is not None:
        return None, [Problem(DOCUMENT, _NO_DOCTYPE)]
    if root.tag != f"{{{BPMN_NS}}}definitions":
        found = etree.QName(root).localname
        return None, [Problem(DOCUMENT, Bilingual(
            f"This is not a BPMN 2.0 file: the root element is {found!r}, not definitions in "
            "the BPMN namespace.",
            f"这不是 BPMN 2.0 文件：根元素是 {found!r}，而不是 BPMN 命名空间中的 definitions。"))]
    for count, _element in enumerate(root.iter(), start=1):
        if count > MAX_ELEMENTS:
            return None, [Problem(DOCUMENT, Bilingual(
                f"The file has more than {MAX_ELEMENTS} elements.",
                f"文件的元素超过 {MAX_ELEMENTS} 个。"))]
    if _depth(root) > MAX_DEPTH:
        return None, [Problem(DOCUMENT, Bilingual(f"The file nests deeper than {MAX_DEPTH} levels.",
                                                  f"文件嵌套超过 {MAX_DEPTH} 层。"))]
    try:
        bytes(xml).decode("utf-8")
    except UnicodeDecodeError:
        return None, [Problem(DOCUMENT, Bilingual(
            "The file is not UTF-8 text; save it as UTF-8 (bpmn-js, Camunda Modeler and Signavio "
            "do).",
            "文件不是 UTF-8 文本：请另存为 UTF-8（bpmn-js、Camunda Modeler 和 Signavio 保存的"
            "都是 UTF-8）。"))]
    return root, []


def rename_process(xml: bytes, old: str, new: str) -> bytes:
    """The document with process `old` renamed `new` (the process element's id and every
    processRef and diagram element pointing to it): how a process made from the modeler's
    starter gets its own key. Unreadable input comes back unchanged, for validation to
    refuse."""
    root, problems = parse_document(xml)
    if root is None or problems:
        return xml
    for element in root.iter():
        for attribute in ("processRef", "bpmnElement"):  # the pool, and the diagram's plane
            if element.get(attribute) == old:
                element.set(attribute, new)
        if element.tag == f"{{{BPMN_NS}}}process" and element.get("id") == old:
            element.set("id", new)
    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8"))


def _depth(root: Any) -> int:
    deepest, stack = 0, [(root, 1)]
    while stack:
        element, depth = stack.pop()
        deepest = max(deepest, depth)
        if depth <= MAX_DEPTH:
            stack.extend((child, depth + 1) for child in element)
    return deepest


def _schema_problems(root: Any) -> list[Problem]:
    """BPMN 2.0 XSD (with the spiff extension schema) errors, as SpiffWorkflow checks them."""
    with _XSD_LOCK:  # an XMLSchema and its error log are not safe to share across threads
        VALIDATOR.preprocess(root)
        if VALIDATOR.validator.validate(root):
            return []
        return [
            Problem(DOCUMENT, Bilingual(f"Not valid BPMN 2.0: {entry.message}",
                                       f"不是有效的 BPMN 2.0：{entry.message}"), entry.line or None)
            for entry in list(VALIDATOR.validator.error_log)[:20]
        ]


def _spiff_problem(err: BaseException) -> Problem:
    """A SpiffWorkflow parser error as a Problem: its own text stays English, what GxPFlow
    adds to it has its Chinese."""
    if isinstance(err, ValidationException):
        reason: str = str(err.args[0]) if err.args else str(err)
        if reason.endswith(" of type") and err.tag:
            # SpiffWorkflow leaves the element's type out of this one ("... for tasks of type")
            kind = err.tag.removeprefix("bpmn:")
            english = f"{reason} {kind}: put a gateway after it to split the flows"
            reason = Bilingual(english, f"{kind} 类型的任务不能有多条流出的顺序流：请在其后加一个"
                                        "网关来分流") if reason == _SEVERAL_OUTGOING else english
        notes = [note for note in getattr(err, "notes", []) if note]
        if notes:
            joined = "; ".join(notes)
            reason = (Bilingual(f"{reason} ({joined})", f"{reason.zh}（{joined}）")
                      if isinstance(reason, Bilingual) else f"{reason} ({joined})")
        if "RecursionError" in reason:
            reason = Bilingual("The process is chained too long to be parsed (hundreds of steps "
                               "in a row); split it into called processes.",
                               "流程串联过长，无法解析（连续数百个步骤）：请拆分为被调用的流程。")
        line = err.line_number if isinstance(err.line_number, int) else None
        return Problem(str(err.id or DOCUMENT), reason, line or None)
    error = f"{type(err).__name__}: {err}"
    return Problem(DOCUMENT, Bilingual(f"SpiffWorkflow cannot parse the file: {error}",
                                       f"SpiffWorkflow 无法解析文件：{error}"))


def _new_parser() -> SpiffBpmnParser:
    return SpiffBpmnParser(validator=None)  # validated by _schema_problems under a lock


# --- validation -------------------------------------------------------------------------------


def validate_bpmn(
    xml: bytes, filename: str, *, called_processes: Collection[str] = frozenset(),
    connectors: Collection[str] | None = None,
) -> ValidationResult:
    """Check a BPMN file against SpiffWorkflow and GxPFlow's conventions. Never raises.

    `called_processes` names processes deployed elsewhere (or a library) that call activities
    of this file may call; `connectors`, the connectors service tasks may call (None: any).
    """
    result = ValidationResult()
    try:
        _validate(xml, filename, frozenset(called_processes), result,
                  None if connectors is None else frozenset(connectors))
    except RecursionError:
        result.problems.append(Problem(DOCUMENT, Bilingual(
            "The process is nested or chained too deeply to be parsed.",
            "流程嵌套或串联过深，无法解析。")))
    except Exception as err:  # any input must come back as a problem
        error = f"{type(err).__name__}: {err}"
        result.problems.append(Problem(DOCUMENT, Bilingual(f"The file cannot be checked: {error}",
                                                           f"无法检查文件：{error}")))
    del result.problems[MAX_PROBLEMS:]
    return result


def _validate(
    xml: bytes, filename: str, called: frozenset[str], result: ValidationResult,
    connectors: frozenset[str] | None = None,
) -> None:
    root, problems = parse_document(xml)
    if root is None:
        result.problems.extend(problems)
        return
    problems = _schema_problems(root)
    if problems:
        result.problems.extend(problems)
        return
    problems = list(_xml_convention_problems(root))
    result.process_key, main_problems = _main_process(root)
    problems.extend(main_problems)
    if result.process_key is not None:
        result.process_name = next(
            (p.get("name") for p in root.findall("bpmn:process", _NS)
             if p.get("id") == result.process_key and p.get("name")), None)
    if problems:
        result.problems.extend(problems)
        return
    parser = _new_parser()
    try:
        parser.add_bpmn_xml(root, filename=filename)
        specs = parser.find_all_specs()
    except RecursionError:
        raise
    except Exception as err:  # SpiffWorkflow raises many kinds
        result.problems.append(_spiff_problem(err))
        return
    known = frozenset(parser.get_process_ids()) | called
    for spec in specs.values():
        result.problems.extend(_spec_problems(spec, known, connectors))
    result.problems.extend(_flow_condition_problems(root))


def _xml_convention_problems(root: Any) -> Iterator[Problem]:
    """Problems found in the XML before SpiffWorkflow parses it (its messages are unclear)."""
    for process in root.iter(f"{{{BPMN_NS}}}process"):
        reserved = RESERVED_IDS | {f"{process.get('id')}.EndJoin"}
        for element in process.iter():
            element_id = element.get("id") if isinstance(element.tag, str) else None
            if element_id in reserved:
                quoted = repr(clip(element_id))
                reserved_id = element_id in RESERVED_IDS
                example = f" (e.g. {element_id}Event_1)" if reserved_id else ""
                example_zh = f"（例如 {element_id}Event_1）" if reserved_id else ""
                yield Problem(str(element_id), Bilingual(
                    f"The id {quoted} is reserved by SpiffWorkflow for its own start and end "
                    f"steps; give the element another id{example}.",
                    f"标识 {quoted} 已被 SpiffWorkflow 留作其自身的开始和结束节点：请为该元素另取"
                    f"标识{example_zh}。"), element.sourceline)
    for element in root.iterfind(".//bpmn:businessRuleTask", _NS):
        yield Problem(str(element.get("id")), Bilingual(
            "Business rule tasks (DMN) are not supported; use a script task or the compliance "
            "gate.", "不支持业务规则任务（DMN）：请改用脚本任务或合规关卡。"))
    for prop in root.iterfind(".//spiffworkflow:property", _NS):
        if prop.get("name") is None or prop.get("value") is None:
            owner = prop.getparent()
            while owner is not None and owner.get("id") is None:
                owner = owner.getparent()
            element_id = owner.get("id") if owner is not None else DOCUMENT
            yield Problem(str(element_id), Bilingual(
                "A spiffworkflow:property needs both name and value.",
                "spiffworkflow:property 须同时有 name 和 value。"), prop.sourceline)


def _main_process(root: Any) -> tuple[str | None, list[Problem]]:
    processes = root.findall("bpmn:process", _NS)
    executable = [p for p in processes if p.get("isExecutable", "true") == "true"]
    declared = [
        p for p in processes
        if any(prop.get("name") == "main" and (prop.get("value") or "").lower() == "true"
               for prop in p.iterfind("bpmn:extensionElements/spiffworkflow:properties/"
                                      "spiffworkflow:property", _NS))
    ]
    if not executable:
        return None, [Problem(DOCUMENT, Bilingual(
            'The file has no executable process; set isExecutable="true" on the process to run.',
            '文件中没有可执行的流程：请在要运行的流程上设置 isExecutable="true"。'))]
    if len(declared) > 1:
        ids = ", ".join(str(p.get("id")) for p in declared)
        return None, [Problem(DOCUMENT, Bilingual(f"More than one process is marked main: {ids}.",
                                                  f"有多个流程被标记为主流程：{ids}。"))]
    if declared:
        main = declared[0]
        if main not in executable:
            return None, [Problem(str(main.get("id")), Bilingual(
                "The main process is not executable.", "主流程不可执行。"))]
        return str(main.get("id")), []
    if len(executable) > 1:
        ids = ", ".join(str(p.get("id")) for p in executable)
        return None, [Problem(DOCUMENT, Bilingual(
            f"The file has several executable processes ({ids}); mark the one to start with the "
            "property main = true.",
            f"文件中有多个可执行的流程（{ids}）：请为要启动的流程设置属性 main = true。"))]
    return str(executable[0].get("id")), []


def _spec_problems(spec: BpmnProcessSpec, known_processes: frozenset[str],
                   connectors: frozenset[str] | None = None) -> Iterator[Problem]:
    completion = getattr(spec, "completion_condition", None)
    if completion is not None:
        for reason in expression_problems(completion):
            yield Problem(spec.name, Bilingual(f"Completion condition: {reason}",
                                               f"完成条件：{chinese(reason)}"))
    for task_spec in spec.task_specs.values():
        element_id = str(getattr(task_spec, "bpmn_id", None) or task_spec.name)
        for reason in element_expression_problems(task_spec):
            yield Problem(element_id, reason)
        if isinstance(task_spec, CallActivity) and task_spec.spec not in known_processes:
            called = clip(str(task_spec.spec))
            yield Problem(element_id, Bilingual(
                f"The call activity calls '{called}', which is neither in this file nor an "
                "allowed process.",
                f"调用活动调用的 '{called}' 既不在本文件中，也不是允许调用的流程。"))
        operation = getattr(task_spec, "operation_name", None)
        if operation is not None and not str(operation).strip():
            yield Problem(element_id, Bilingual("The service task names no connector.",
                                                "服务任务未指明连接器。"))
        elif connectors is not None and operation is not None and operation not in connectors:
            named = clip(str(operation))
            offered = ", ".join(sorted(connectors)) or "none"
            yield Problem(element_id, Bilingual(
                f"The service task calls the connector '{named}', which is not registered "
                f"(registered: {offered}).",
                f"服务任务调用的连接器 '{named}' 未注册（已注册：{offered}）。"))
        result = getattr(task_spec, "result_variable", None) if operation is not None else None
        if result is not None and not (str(result).isidentifier()
                                       and not keyword.iskeyword(str(result))
                                       and not str(result).startswith("__")):
            shown = clip(str(result))
            yield Problem(element_id, Bilingual(
                f"The result variable '{shown}' is not a name scripts can use (letters, digits "
                "and _, not starting with a digit or __).",
                f"结果变量 '{shown}' 不是脚本可用的名称（字母、数字和 _，不以数字或 __ 开头）。"))
        if getattr(task_spec, "manual", False) and getattr(task_spec, "bpmn_id", None):
            for reason in _human_task_problems(task_spec):
                yield Problem(element_id, reason)


def _flow_condition_problems(root: Any) -> Iterator[Problem]:
    for flow in root.iterfind(".//bpmn:sequenceFlow", _NS):
        condition = flow.find("bpmn:conditionExpression", _NS)
        if condition is None:
            continue
        quoted = repr((condition.text or "").strip())
        for reason in expression_problems(condition.text):
            yield Problem(str(flow.get("id")), Bilingual(f"Condition {quoted}: {reason}",
                                                         f"条件 {quoted}：{chinese(reason)}"),
                          flow.sourceline)


def _human_task_problems(task_spec: Any) -> Iterator[Bilingual]:
    kind = _HUMAN_TASK_KINDS.get(type(task_spec).__name__, _TASK)
    properties = _properties(task_spec)
    step = properties.get("step")
    if not step:
        yield Bilingual(f"The {kind} has no 'step' property (the compliance step it performs, "
                        "e.g. receiving.inspect).",
                        f"{kind.zh}没有 'step' 属性（它执行的合规步骤，例如 receiving.inspect）。")
    elif not STEP_PATTERN.fullmatch(step):
        yield Bilingual(f"The step {clip(step)!r} is not of the form area.action (lower case, "
                        "e.g. receiving.inspect).",
                        f"步骤 {clip(step)!r} 的格式不是 领域.动作（小写，例如 "
                        "receiving.inspect）。")
    lane = task_spec.lane
    if not lane:
        yield Bilingual(f"The {kind} is not in a lane; put it in the lane of the role that "
                        "performs it.",
                        f"{kind.zh}不在任何泳道中：请把它放进执行它的角色的泳道。")
    elif role_for_lane(lane) is None:
        roles = ", ".join(sorted(ROLE_IDS))
        yield Bilingual(f"The lane {clip(lane)!r} names no role; name it after a role id, e.g. "
                        f"'Inspector (inspector)'. Roles: {roles}.",
                        f"泳道 {clip(lane)!r} 未指明任何角色：请以角色标识命名，例如 "
                        f"'Inspector (inspector)'。角色：{roles}。")
    if properties.get("form") is not None:
        try:
            _form(properties["form"])
        except FormSpecInvalid as err:
            yield Bilingual(f"The form is not valid: {err.message}",
                            f"表单无效：{err.text('zh')}")
    four_eyes = properties.get("four_eyes_with")
    if four_eyes is not None and not (
        STEP_PATTERN.fullmatch(four_eyes)
        or re.fullmatch(r"=[A-Za-z_][A-Za-z0-9_]*", four_eyes)
    ):
        yield Bilingual(f"four_eyes_with {clip(four_eyes)!r} is not a step (area.action) or "
                        "'=variable' naming the step in the task data.",
                        f"four_eyes_with {clip(four_eyes)!r} 既不是步骤（领域.动作），也不是在任务"
                        "数据中指明步骤的 '=变量名'。")
    due = properties.get("due_hours")
    if due is not None and _due_hours(due) is None:
        yield Bilingual(f"due_hours {due!r} is not a positive number of hours "
                        f"(at most {MAX_DUE_HOURS:g}).",
                        f"due_hours {due!r} 不是正数小时（最多 {MAX_DUE_HOURS:g}）。")
    meaning = properties.get("signature")
    if meaning is not None and meaning not in SIGNATURE_MEANINGS:
        meanings = ", ".join(sorted(SIGNATURE_MEANINGS))
        yield Bilingual(f"The signature meaning {clip(meaning)!r} is not one of {meanings}.",
                        f"签名含义 {clip(meaning)!r} 不是以下之一：{meanings}。")


def _properties(task_spec: Any) -> dict[str, str]:
    extensions = getattr(task_spec, "extensions", None) or {}
    properties = extensions.get("properties") or {}
    return {str(key): str(value) for key, value in properties.items()}


def _due_hours(text: str) -> float | None:
    try:
        hours = float(text)
    except (TypeError, ValueError):
        return None
    return hours if math.isfinite(hours) and 0 < hours <= MAX_DUE_HOURS else None


@functools.lru_cache(maxsize=512)
def _form(text: str) -> FormSpec:
    return parse_form(text)


# --- loading for the runtime ------------------------------------------------------------------


def load_spec(
    xml: bytes, key: str, dependencies: Mapping[str, bytes] | None = None
) -> tuple[BpmnProcessSpec, dict[str, BpmnProcessSpec]]:
    """Parse a deployed definition (and the files it calls) into SpiffWorkflow specs.

    `key` is the process id to start; `dependencies` maps a name (used in messages) to the
    BPMN of other files whose processes call activities may call. Returns the process spec
    and the specs of every process it calls. Raises DefinitionInvalid.
    """
    parser = _new_parser()
    for name, document in [(key, xml), *(dependencies or {}).items()]:
        root, problems = parse_document(document)
        if root is None:
            raise DefinitionInvalid(f"The BPMN of {name} cannot be read.", problems)
        problems = _schema_problems(root)
        if problems:
            raise DefinitionInvalid(f"The BPMN of {name} is not valid BPMN 2.0.", problems)
        try:
            parser.add_bpmn_xml(root, filename=name)
        except Exception as err:
            raise DefinitionInvalid(f"The BPMN of {name} cannot be parsed.",
                                    [_spiff_problem(err)]) from None
    try:
        spec = parser.get_spec(key)
        subprocess_specs = parser.get_subprocess_specs(key)
    except Exception as err:
        raise DefinitionInvalid(f"The process {key} cannot be loaded.",
                                [_spiff_problem(err)]) from None
    return spec, subprocess_specs


def user_task_meta(task_spec: Any) -> UserTaskMeta:
    """Read a user task's step, role (from its lane), form and rules; raises DefinitionInvalid."""
    element_id = str(getattr(task_spec, "bpmn_id", None) or task_spec.name)
    properties = _properties(task_spec)
    step = properties.get("step")
    if not step:
        raise DefinitionInvalid(f"The user task {element_id} has no step.",
                                [Problem(element_id, Bilingual(
                                    "The user task has no 'step' property.",
                                    "用户任务没有 'step' 属性。"))])
    form_text = properties.get("form")
    try:
        form = _form(form_text) if form_text is not None else None
    except FormSpecInvalid as err:
        raise DefinitionInvalid(f"The form of {element_id} is not valid.",
                                [Problem(element_id, Bilingual(err.message, err.text("zh")))]
                                ) from None
    due_text = properties.get("due_hours")
    due_hours = _due_hours(due_text) if due_text is not None else None
    if due_text is not None and due_hours is None:
        raise DefinitionInvalid(f"The due_hours of {clip(element_id)} is not valid.",
                                [Problem(element_id, Bilingual(
                                    f"due_hours {clip(due_text)!r} is not valid.",
                                    f"due_hours {clip(due_text)!r} 无效。"))])
    meaning = properties.get("signature")
    if meaning is not None and meaning not in SIGNATURE_MEANINGS:
        raise DefinitionInvalid(f"The signature of {clip(element_id)} is not valid.",
                                [Problem(element_id, Bilingual(
                                    f"Unknown signature meaning {clip(meaning)!r}.",
                                    f"未知的签名含义 {clip(meaning)!r}。"))])
    lane = getattr(task_spec, "lane", None)
    return UserTaskMeta(
        step=step, role=role_for_lane(lane), form=form,
        four_eyes_with=properties.get("four_eyes_with") or None, due_hours=due_hours,
        signature_meaning=meaning, lane=lane,
    )
