"""Chinese and English in the UI, and times shown in the user's time zone (stored in UTC).

Messages are keyed by their English text; `_("Inbox")` gives 任务箱 for a Chinese user.
Each feature adds its own strings to `CATALOG` through `add_messages`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from flask import Flask, current_app, g, has_request_context, request, session
from markupsafe import escape

from engine.config import LOCALES, Settings
from engine.errors import Bilingual, GxpError

CATALOG: dict[str, dict[str, str]] = {"zh": {}}


def add_messages(zh: dict[str, str]) -> None:
    """Register Chinese translations for English message keys.

    The catalogue is one for the whole app, so a term reads the same on every page: a key
    another feature already translated differently is refused (the last import would win
    everywhere). A word whose meaning depends on what it describes gets a context key,
    "context|word" (see `translate`)."""
    known = CATALOG["zh"]
    clashes = {key: (known[key], text) for key, text in zh.items()
               if key in known and known[key] != text}
    if clashes:
        raise ValueError(f"translated twice, differently: {clashes}")
    known.update(zh)


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
        "Pages": "分页",
        "Notifications": "通知",
        "Mark all as read": "全部标为已读",
        "No notifications.": "没有通知。",
        "Time": "时间",
        "Subject": "主题",
        "Message": "内容",
        "Previous": "上一页",
        "Next": "下一页",
        "Page {page} of {pages} · {total} rows": "第 {page} / {pages} 页 · 共 {total} 条",
        "Page {page} of {pages} · {total} row": "第 {page} / {pages} 页 · 共 {total} 条",
        "BROKEN": "已失效",
        "Log in": "登录",
        "Log out": "退出",
        "User name": "用户名",
        "Password": "密码",
        "Two-factor": "双因素认证",
        "Two-factor code": "双因素验证码",
        "Two-factor log-in": "双因素登录",
        "Two-factor log-in is on": "双因素登录已开启",
        "Code": "验证码",
        "Continue": "继续",
        "Confirm": "确认",
        "Done": "完成",
        "Secret key": "密钥",
        "Set up again": "重新设置",
        "Recovery codes": "恢复码",
        "Change password": "修改密码",
        "Current password": "当前密码",
        "New password": "新密码",
        "Repeat the new password": "再次输入新密码",
        "You are logged out.": "您已退出登录。",
        "Your password was changed.": "密码已修改。",
        "The two new passwords differ.": "两次输入的新密码不一致。",
        "The user name or password is wrong.": "用户名或密码错误。",
        "Your session was idle too long; log in again.": "会话空闲时间过长，请重新登录。",
        "Your password has expired: choose a new one.": "密码已过期，请设置新密码。",
        "Your role requires two-factor log-in: set it up now.":
            "您的角色要求双因素登录，请立即设置。",
        "Enter the 6-digit code from your authenticator app, or one of your recovery codes.":
            "请输入认证器应用中的 6 位验证码，或一个恢复码。",
        "Scan this code with an authenticator app (or type the key below).":
            "用认证器应用扫描此二维码（或手动输入下方密钥）。",
        "Enter the 6-digit code the app shows to confirm.": "输入应用显示的 6 位验证码以确认。",
        "At least 10 characters, with letters and digits, not containing your user name.":
            "至少 10 个字符，须包含字母和数字，且不得包含用户名。",
        "What you sent is too large (at most 10 files of 10 MB each in one form). Go back and "
        "attach fewer or smaller files.": "提交的内容过大（每个表单最多 10 个文件，每个不超过 "
        "10 MB）。请返回，减少或缩小附件后再提交。",
        "Contains a character that cannot be stored (a NUL or an unpaired surrogate); "
        "remove it.": "含有无法保存的字符（NUL 或不成对的代理字符），请删除。",
        "This form has expired or did not come from GxPFlow. Go back, reload the page and "
        "submit it again.": "表单已过期或并非来自 GxPFlow。请返回、刷新页面后重新提交。",
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
        chosen = g.get("accept_locale")  # a page asks dozens of times: parse the header once
        if chosen is None:
            chosen = g.accept_locale = (request.accept_languages.best_match(LOCALES)
                                        or _settings().default_locale)
    return str(chosen)


def get_timezone() -> ZoneInfo:
    name = (session.get("timezone") if has_request_context() else None) or (
        _settings().default_timezone
    )
    return ZoneInfo(name)


def translate(message: str, context: str = "", **values: Any) -> str:
    """`message` in the user's language; with a `context`, its "context|message" translation
    first (an open task is 待办, an open recall 进行中)."""
    locale = get_locale()
    if isinstance(message, Bilingual):  # made at run time, with its Chinese
        shown = message.zh if locale.startswith("zh") and message.zh else str(message)
        return shown.format(**values) if values else shown
    catalog = CATALOG.get(locale, {})
    text = catalog.get(f"{context}|{message}") if context else None
    if text is None:
        text = catalog.get(message, message)
    return text.format(**values) if values else text


class Lazy:
    """A text translated when it is shown, not when it is made: the labels of a form's select
    options, built once at import time, in the language of each request that renders them."""

    def __init__(self, text: str) -> None:
        self.text = text

    def __str__(self) -> str:
        return translate(self.text)

    def __html__(self) -> str:
        return str(escape(str(self)))

    def __eq__(self, other: object) -> bool:
        return self.text == (other.text if isinstance(other, Lazy) else other)

    def __hash__(self) -> int:
        return hash(self.text)


def localtime(value: datetime | None, fmt: str = "%Y-%m-%d %H:%M %Z") -> str:
    """A stored UTC time shown in the user's zone, with the zone named: its abbreviation and,
    away from UTC, its offset ("CST" alone is Shanghai's and Chicago's)."""
    if value is None:
        return ""
    local = value.astimezone(get_timezone())
    if "%Z" in fmt:
        fmt = fmt.replace("%Z", zone_label(local).replace("%", "%%"))
    return local.strftime(fmt)


def zone_label(local: datetime) -> str:
    """`CST (UTC+08:00)`, `CET (UTC+01:00)`, `UTC`."""
    name, offset = local.tzname() or "", local.utcoffset()
    if not offset:
        return name or "UTC"
    minutes = int(offset.total_seconds()) // 60
    hours, rest = divmod(abs(minutes), 60)
    utc = f"UTC{'+' if minutes >= 0 else '-'}{hours:02d}:{rest:02d}"
    return utc if not name or name[0] in "+-" else f"{name} ({utc})"


def readable(value: Any) -> str:
    """Recorded data as a person reads it: a dash for nothing, yes or no, a time with its zone
    in the user's zone, a record as "key: value" pairs, a list one item after another, text
    as written."""
    if value is None or value == "":
        return "—"
    if isinstance(value, bool):
        return translate("yes") if value else translate("no")
    if isinstance(value, dict):
        from engine.processes import RECORD_KEYS_ZH

        names = (RECORD_KEYS_ZH if has_request_context() and get_locale().startswith("zh")
                 else {})
        return " · ".join(f"{names.get(str(key), key)}: {readable(item)}"
                          for key, item in value.items() if not str(key).startswith("_"))
    if isinstance(value, list | tuple):
        return "; ".join(readable(item) for item in value) if value else "—"
    if isinstance(value, str) and _ZONED_TIME.fullmatch(value):
        try:
            return localtime(datetime.fromisoformat(value))
        except ValueError:
            return value
    return str(value)


#: An ISO 8601 time with a zone, as the workflow records times.
_ZONED_TIME = re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})")


def field_label(name: str, labels: Mapping[str, Mapping[str, str]]) -> str:
    """A recorded field's name as its form labelled it, or as the processes name what their
    steps add (`engine.processes.DATA_LABELS`), in the user's language."""
    from engine.processes import DATA_LABELS

    label = labels.get(name) or DATA_LABELS.get(name)
    if not label:
        return name
    return label.get(get_locale()) or label.get("en") or name


def field_value(value: Any, name: str, labels: Mapping[str, Mapping[str, str]]) -> str:
    """A recorded value as its form offered it (an option's label in the user's language),
    else as `readable` shows it."""
    label = labels.get(name) or {}
    locale = get_locale()

    def shown(item: Any) -> str:
        if isinstance(item, str) and item:
            return label.get(f"{locale}:{item}") or label.get(f"en:{item}") or readable(item)
        return readable(item)

    if isinstance(value, list) and value and all(isinstance(item, str) for item in value):
        return "; ".join(shown(item) for item in value)
    return shown(value)


def refusal(error: GxpError) -> str:
    """A refusal's message in the user's language: the Chinese it carries (`zh=`), else the
    catalog's translation of its English, else the English."""
    shown = error.text(get_locale())
    return shown if shown != error.message else translate(error.message)


def form_problems(form: Any) -> str:
    """A refused WTForms form's errors as one line naming each field by its label, in the
    user's language: "Site: Not a valid choice.; Reason: This field is required." (the CSRF
    token as an expired form)."""
    parts = []
    for name, errors in form.errors.items():
        if name == "csrf_token":
            parts.append(translate("The form expired; try again."))
            continue
        parts.append(f"{translate(str(form[name].label.text))}: {translate(str(errors[0]))}")
    return "; ".join(parts)


def _settings() -> Settings:
    settings: Settings = current_app.extensions["gxpflow.settings"]
    return settings


def init_app(app: Flask) -> None:
    app.jinja_env.globals.update(_=translate, get_locale=get_locale)
    app.jinja_env.filters["localtime"] = localtime
    app.jinja_env.filters["readable"] = readable
    app.jinja_env.filters["field_label"] = field_label
    app.jinja_env.filters["field_value"] = field_value
