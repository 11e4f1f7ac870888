"""The processes layer: what each compliance step does to the ledger and the records when its
task completes (the workflow runtime's `StepEffects`).

A process module registers one handler per step with `@effect("receiving.arrival")`; the
handler gets the step context (instance, task, form, actor) and the gate's outcome, posts to
the ledger through the engine services (which check permissions and audit), and returns data
merged into the task (for example the movement ids or a receipt number). It runs inside the
completing transaction, so a refused posting refuses the whole completion and nothing stays.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from engine.errors import InvalidInput
from engine.identity.models import User
from engine.workflow.models import ProcessInstance
from engine.workflow.runtime import GateOutcome, StepContext

Handler = Callable[[StepContext, GateOutcome], dict[str, Any]]
FactsHandler = Callable[[StepContext], dict[str, Any]]
TerminatedHandler = Callable[[ProcessInstance, User, str], None]
#: What a task's performer works from (a pick list, the goods to check): rows of
#: {column: value}, given the instance and the task's data.
WorklistHandler = Callable[[ProcessInstance, dict[str, Any]], "Worklist"]
WORKLISTS: dict[str, WorklistHandler] = {}
HANDLERS: dict[str, Handler] = {}
FACTS: dict[str, FactsHandler] = {}
TERMINATED: dict[str, TerminatedHandler] = {}
#: Processes that run at one site (its packs gate them, its stock moves): started with one.
SITED: set[str] = set()

#: The Chinese of the keys inside the records the steps' handlers add (postings, results,
#: gate decisions), as the history shows them to a Chinese reader; English shows the keys.
RECORD_KEYS_ZH: dict[str, str] = {
    "accepted": "合格数", "accepted_location": "合格品货位", "address": "地址",
    "allocation": "分配", "attachments": "附件", "boxes_preconditioned": "保温箱已预冷",
    "carrier": "承运商", "code": "编码", "cold_chain": "冷链", "cold_chain_responsible_person":
    "冷链负责人", "consignee": "收货单位", "contact": "联系方式", "customer": "购货单位",
    "customer_name": "购货单位名称", "customer_name_en": "购货单位英文名称",
    "customer_order_no": "客户订单号", "deadlines": "期限", "decided_at": "判定时间",
    "defects": "质量问题", "device_class": "管理类别", "due_at": "截止时间", "expiry": "有效期",
    "from_location": "原货位", "gtin": "GTIN", "held_for_recall": "召回冻结数",
    "held_in_quarantine": "留待验数", "hold_in_quarantine": "留待验",
    "hold_rules": "留待验规则", "hours": "小时", "inspector": "验收员",
    "licence_flag": "证照提示", "licence_no": "许可证号", "licence_valid": "证照有效",
    "lines": "明细", "location": "货位", "lot": "批号", "lot_no": "批号", "lots": "批号",
    "manufacturer": "生产企业", "manufacturer_en": "生产企业英文名称", "model": "型号规格",
    "moved": "移动", "movement": "流水", "movement_id": "流水号", "movement_ids": "流水号",
    "movements": "流水", "name": "名称", "name_en": "英文名称", "name_zh": "中文名称",
    "notified_users": "已通知人员", "notify": "通知", "number": "编号", "order_no": "订单号",
    "outcome": "结论", "packs": "规则包", "party": "往来单位", "patient_data": "患者信息",
    "product": "产品", "production_date": "生产日期", "purchaser_licence_no": "购货单位许可证号",
    "quantity": "数量", "quarantine": "待验", "registrant": "注册人/备案人",
    "registration_flag": "注册证提示", "registration_no": "注册证号/备案编号",
    "rejected": "不合格数", "rejected_lines": "不合格明细", "rejected_location": "不合格品货位",
    "required_fields": "必填项", "review_required": "需要复核", "review_status": "审核状态",
    "round": "轮次", "rule": "规则", "rules": "规则", "sale_date": "销售日期", "seal": "印章",
    "seal_applied": "已加封", "second_person_of": "双人复核步骤", "serial": "序列号",
    "serials": "序列号", "ship_date": "发货日期", "ship_note": "发货备注",
    "ship_to_address": "收货地址", "shipped_at": "发货时间", "shipper": "发货人",
    "signed_form": "签名表单", "site_timezone": "仓库时区", "specification": "规格",
    "status": "状态", "step": "步骤", "storage_conditions": "储存条件", "supplier": "供货单位",
    "temperature_controlled": "温控", "to": "至", "total": "合计",
    "tracking_notices": "追踪报告", "transport_conditions": "运输条件",
    "vehicle_at_temperature": "车辆已达温", "warnings": "警告", "waybill_no": "运单号",
    "working_days": "工作日", "site": "仓库", "by_status": "按状态", "available": "合格",
    "nonconforming": "不合格", "picked": "已拣货", "recalled": "召回冻结",
}

#: What the steps' handlers add to a task's data (no form labels it), named for the history.
DATA_LABELS: dict[str, dict[str, str]] = {
    "arrival_compliance": {"en": "Gate decision at arrival", "zh": "到货合规判定"},
    "check_notifications": {"en": "Notices sent (check)", "zh": "已发通知（复核）"},
    "check_passed": {"en": "Check passed", "zh": "复核通过"},
    "check_review": {"en": "Second-person check", "zh": "双人复核"},
    "check_rounds": {"en": "Check rounds", "zh": "复核轮次"},
    "delivery_note": {"en": "Delivery note", "zh": "随货同行单"},
    "delivery_note_url": {"en": "Delivery note page", "zh": "随货同行单页面"},
    "dual_review_needed": {"en": "Second-person review needed", "zh": "需要双人复核"},
    "inspection": {"en": "Inspection result", "zh": "验收结果"},
    "inspection_notifications": {"en": "Notices sent (inspection)", "zh": "已发通知（验收）"},
    "inspection_passed": {"en": "Inspection passed", "zh": "验收合格"},
    "inspection_round": {"en": "Inspection round", "zh": "验收轮次"},
    "notifications": {"en": "Notices sent", "zh": "已发通知"},
    "order": {"en": "Sales order", "zh": "销售订单"},
    "party_code": {"en": "Supplier or customer code", "zh": "供应商或客户编码"},
    "picked": {"en": "Picked", "zh": "已拣货"},
    "picked_all": {"en": "Everything picked", "zh": "已全部拣货"},
    "product_code": {"en": "Product code", "zh": "产品编码"},
    "product_file": {"en": "Product registration", "zh": "产品注册证"},
    "putaway": {"en": "Putaway postings", "zh": "上架过账"},
    "putaway_notifications": {"en": "Notices sent (putaway)", "zh": "已发通知（上架）"},
    "qualification": {"en": "Supplier qualification", "zh": "供应商资质"},
    "receipt": {"en": "Receipt postings", "zh": "收货过账"},
    "received_quantity": {"en": "Received quantity", "zh": "收货数量"},
    "review_decision": {"en": "Review decision", "zh": "复核结论"},
    "review_of_step": {"en": "Step reviewed", "zh": "被复核步骤"},
    "ship_notifications": {"en": "Notices sent (shipping)", "zh": "已发通知（发货）"},
    "shipping_location": {"en": "Dispatch location", "zh": "发货区货位"},
}


def _register(table: dict[str, Any], key: str, taken: str) -> Callable[[Any], Any]:
    def register(handler: Any) -> Any:
        if key in table and table[key] is not handler:
            raise RuntimeError(taken)
        table[key] = handler
        return handler

    return register


def facts(step: str) -> Callable[[FactsHandler], FactsHandler]:
    """Register what the server computes for a step's rule-pack fact before the gate runs
    (licence and registration validity, stock status, temperatures from the ledger...)."""
    return _register(FACTS, step, f"Step {step} already has a facts handler")


def effect(step: str) -> Callable[[Handler], Handler]:
    """Register the handler of a step (one per step)."""
    return _register(HANDLERS, step, f"Step {step} already has an effect handler")


def terminated(process_key: str) -> Callable[[TerminatedHandler], TerminatedHandler]:
    """Register what ending an instance of a process undoes (one handler per process)."""
    return _register(TERMINATED, process_key,
                     f"Process {process_key} already has a termination handler")


class Worklist:
    """A titled table on a task's page: the lines the performer works through."""

    def __init__(self, title: dict[str, str], columns: list[tuple[str, dict[str, str]]],
                 rows: list[dict[str, Any]], note: dict[str, str] | None = None) -> None:
        self.title, self.columns, self.rows, self.note = title, columns, rows, note or {}


def worklist(step: str) -> Callable[[WorklistHandler], WorklistHandler]:
    """Register the table a step's task page shows above its form (one per step)."""
    return _register(WORKLISTS, step, f"Step {step} already has a worklist")


def worklist_for(step: str, instance: ProcessInstance, data: dict[str, Any]) -> Worklist | None:
    """The step's worklist for its task page, or None (no handler, or it cannot be made now:
    the page still shows, the step's own checks speak at completion)."""
    _load_modules()
    handler = WORKLISTS.get(step)
    if handler is None:
        return None
    try:
        return handler(instance, data)
    except (InvalidInput, KeyError, TypeError, ValueError):
        return None


def needs_site(*process_keys: str) -> None:
    """Declare processes that cannot start without a site."""
    SITED.update(process_keys)


class ProcessEffects:
    """The StepEffects of GxPFlow: dispatches to the handler registered for the task's step."""

    def facts(self, context: StepContext) -> dict[str, Any]:
        _load_modules()
        handler = FACTS.get(context.meta.step)
        return handler(context) if handler else {}

    def apply(self, context: StepContext, outcome: GateOutcome) -> dict[str, Any]:
        _load_modules()
        handler = HANDLERS.get(context.meta.step)
        return handler(context, outcome) if handler else {}

    def terminated(self, instance: ProcessInstance, actor: User, reason: str) -> None:
        _load_modules()
        handler = TERMINATED.get(instance.process_key)
        if handler:
            handler(instance, actor, reason)

    def check_start(self, process_key: str, site_code: str | None) -> None:
        _load_modules()
        if process_key in SITED and not site_code:
            raise InvalidInput(
                f"Choose the site: {process_key} runs at one site, whose rule packs gate it.",
                fields={"site": "Required: the site where this happens."})


#: Process modules that register handlers (one line each).
MODULES: tuple[str, ...] = (
    "engine.processes.recall",
    "engine.processes.receiving",
    "engine.processes.release",
    "engine.processes.outbound",
)


def _load_modules() -> None:
    import importlib

    for name in MODULES:
        importlib.import_module(name)
