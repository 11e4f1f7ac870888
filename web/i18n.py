"""Chinese and English in the UI, and times shown in the user's time zone (stored in UTC).

Messages are keyed by their English text; `_("Inbox")` gives 任务箱 for a Chinese user.
Each feature adds its own strings to `CATALOG` through `add_messages`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from flask import Flask, current_app, has_request_context, request, session

from engine.config import LOCALES, Settings

CATALOG: dict[str, dict[str, str]] = {"zh": {}}


def add_messages(zh: dict[str, str]) -> None:
    """Register Chinese translations for English message keys."""
    CATALOG["zh"].update(zh)


add_messages(
    {
        "Home": "首页",
        "Inbox": "任务箱",
        "Ledger": "库存台账",
        "Processes": "流程",
        "Rule packs": "规则包",
        "Recalls": "召回",
        "Audit trail": "审计追踪",
        "Administration": "系统管理",
        "Language": "语言",
        "System status": "系统状态",
        "Database": "数据库",
        "Task queue": "任务队列",
        "reachable": "可连接",
        "unreachable": "无法连接",
        "eager (runs inside the web process)": "即时模式（在网页进程内执行）",
        "Time zone": "时区",
        "Version": "版本",
        "Back to the home page": "返回首页",
        "Error": "错误",
        "Welcome to GxPFlow": "欢迎使用 GxPFlow",
        "GxPFlow makes compliance the way work is done: every receipt, inspection, release, "
        "shipment and recall runs as a process, gated by the rule pack of your region, "
        "signed and traceable.": "GxPFlow 让合规成为工作方式本身：每一次收货、验收、放行、"
        "发货和召回都作为流程执行，受本地区规则包把关，有电子签名，可追溯。",
    }
)


def get_locale() -> str:
    if not has_request_context():
        return _settings().default_locale
    chosen = session.get("locale") or request.cookies.get("gxpflow_locale")
    if chosen not in LOCALES:
        chosen = request.accept_languages.best_match(LOCALES) or _settings().default_locale
    return str(chosen)


def get_timezone() -> ZoneInfo:
    name = (session.get("timezone") if has_request_context() else None) or (
        _settings().default_timezone
    )
    return ZoneInfo(name)


def translate(message: str, **values: Any) -> str:
    text = CATALOG.get(get_locale(), {}).get(message, message)
    return text.format(**values) if values else text


def localtime(value: datetime | None, fmt: str = "%Y-%m-%d %H:%M %Z") -> str:
    """A stored UTC time shown in the user's zone, with the zone named."""
    if value is None:
        return ""
    return value.astimezone(get_timezone()).strftime(fmt)


def _settings() -> Settings:
    settings: Settings = current_app.extensions["gxpflow.settings"]
    return settings


def init_app(app: Flask) -> None:
    app.jinja_env.globals.update(_=translate, get_locale=get_locale)
    app.jinja_env.filters["localtime"] = localtime
