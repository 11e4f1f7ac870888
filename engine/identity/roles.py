"""Roles and the role-by-action permission matrix, checked by engine services on every action."""

from __future__ import annotations

from typing import Final

RECEIVING_CLERK: Final = "receiving_clerk"
INSPECTOR: Final = "inspector"
WAREHOUSE_OPERATOR: Final = "warehouse_operator"
QUALITY_MANAGER: Final = "quality_manager"
COMPLIANCE_OFFICER: Final = "compliance_officer"
PROCESS_OWNER: Final = "process_owner"
ADMINISTRATOR: Final = "administrator"
AUDITOR: Final = "auditor"
API_CLIENT: Final = "api_client"

ROLES: Final[dict[str, dict[str, str]]] = {
    RECEIVING_CLERK: {"en": "Receiving clerk", "zh": "收货员"},
    INSPECTOR: {"en": "Inspector", "zh": "验收员"},
    WAREHOUSE_OPERATOR: {"en": "Warehouse operator", "zh": "仓库操作员"},
    QUALITY_MANAGER: {"en": "Quality manager", "zh": "质量负责人"},
    COMPLIANCE_OFFICER: {"en": "Compliance officer", "zh": "合规专员"},
    PROCESS_OWNER: {"en": "Process owner", "zh": "流程负责人"},
    ADMINISTRATOR: {"en": "Administrator", "zh": "系统管理员"},
    AUDITOR: {"en": "Auditor (read-only)", "zh": "审计员（只读）"},
    API_CLIENT: {"en": "API client", "zh": "接口客户端"},
}

ALL_STAFF = frozenset({RECEIVING_CLERK, INSPECTOR, WAREHOUSE_OPERATOR, QUALITY_MANAGER,
                       COMPLIANCE_OFFICER, PROCESS_OWNER, ADMINISTRATOR, AUDITOR})

#: action -> roles allowed to do it. An action missing here is refused to everyone.
PERMISSIONS: Final[dict[str, frozenset[str]]] = {
    # identity and audit
    "users.view": frozenset({ADMINISTRATOR, AUDITOR}),
    "users.manage": frozenset({ADMINISTRATOR}),
    "training.record": frozenset({ADMINISTRATOR, QUALITY_MANAGER}),
    "tokens.manage": frozenset({ADMINISTRATOR}),
    "audit.view": frozenset({ADMINISTRATOR, AUDITOR, QUALITY_MANAGER, COMPLIANCE_OFFICER}),
    "audit.verify": frozenset({ADMINISTRATOR, AUDITOR, QUALITY_MANAGER, COMPLIANCE_OFFICER}),
    # master data and ledger
    "masterdata.view": ALL_STAFF,
    "masterdata.edit": frozenset({QUALITY_MANAGER, ADMINISTRATOR}),
    "masterdata.review": frozenset({QUALITY_MANAGER}),
    "ledger.view": ALL_STAFF,
    "ledger.receive": frozenset({RECEIVING_CLERK, WAREHOUSE_OPERATOR}),
    "ledger.move": frozenset({WAREHOUSE_OPERATOR}),
    "ledger.count": frozenset({WAREHOUSE_OPERATOR, QUALITY_MANAGER}),
    "ledger.correct": frozenset({QUALITY_MANAGER}),
    "ledger.inspect": frozenset({INSPECTOR, QUALITY_MANAGER}),
    "ledger.release": frozenset({QUALITY_MANAGER}),
    "temperature.import": frozenset({WAREHOUSE_OPERATOR, RECEIVING_CLERK, QUALITY_MANAGER}),
    # processes
    "processes.view": ALL_STAFF,
    "processes.deploy": frozenset({PROCESS_OWNER}),
    "instances.start": frozenset({RECEIVING_CLERK, WAREHOUSE_OPERATOR, QUALITY_MANAGER,
                                  INSPECTOR, API_CLIENT}),
    "instances.manage": frozenset({ADMINISTRATOR, QUALITY_MANAGER}),
    "instances.view": ALL_STAFF,
    "tasks.view": ALL_STAFF,
    "tasks.assign": frozenset({QUALITY_MANAGER, ADMINISTRATOR}),
    "tasks.retry": frozenset({ADMINISTRATOR}),
    # rule packs
    "rules.view": frozenset({COMPLIANCE_OFFICER, QUALITY_MANAGER, AUDITOR, ADMINISTRATOR,
                             PROCESS_OWNER}),
    "rules.activate": frozenset({COMPLIANCE_OFFICER}),
    "rules.import": frozenset({COMPLIANCE_OFFICER}),
    "rules.test": frozenset({COMPLIANCE_OFFICER, QUALITY_MANAGER, PROCESS_OWNER}),
    # recalls
    # An API client reads back only the recalls it started (GET /api/v1/recalls/<number>,
    # checked there), never the others: see `recalls.start`.
    "recalls.view": ALL_STAFF,
    "recalls.start": frozenset({QUALITY_MANAGER, COMPLIANCE_OFFICER, API_CLIENT}),
    "recalls.close": frozenset({QUALITY_MANAGER}),
    # device tracking reports to manufacturers (21 CFR 821)
    "tracking.view": frozenset({QUALITY_MANAGER, COMPLIANCE_OFFICER, AUDITOR}),
    "tracking.send": frozenset({QUALITY_MANAGER, COMPLIANCE_OFFICER}),
}


def allowed_roles(action: str) -> frozenset[str]:
    return PERMISSIONS.get(action, frozenset())


def role_label(role: str, locale: str = "en") -> str:
    labels = ROLES.get(role)
    return labels.get(locale, labels["en"]) if labels else role
