"""Chinese for the audit trail pages and the signature manifestation macro."""

from engine.signatures import MEANINGS
from web.i18n import add_messages

add_messages({f"meaning|{labels['en']}": labels["zh"] for labels in MEANINGS.values()})
add_messages(
    {
        "Verify chain": "校验哈希链",
        "OK": "正常",
        "{count} events verified in {seconds} s: the chain is intact.":
            "已在 {seconds} 秒内校验 {count} 个事件：哈希链完整。",
        "The chain breaks at": "哈希链断裂于",
        "event {seq}": "事件 {seq}",
        "{count} events before it verified, in {seconds} s.":
            "其之前的 {count} 个事件校验通过，用时 {seconds} 秒。",
        "its content was changed after it was written": "其内容在写入后被修改",
        "its link to the previous event was changed": "其与前一事件的链接被修改",
        "Entity type": "记录类型",
        "Entity id": "记录编号",
        "Actor": "操作人",
        "Action": "操作",
        "user, lot, movement…": "user、lot、movement…",
        "Name or user name": "姓名或用户名",
        "user.deactivate, role.…": "user.deactivate、role.…",
        "Filter": "筛选",
        "Clear filters": "清除筛选",
        "Export CSV": "导出 CSV",
        "(the filtered events, times in UTC, with hashes)":
            "（筛选出的事件，时间为 UTC，含哈希值）",
        "Record": "记录",
        "Details": "详情",
        "reason given": "附原因",
        "No events match.": "没有符合条件的事件。",
        "Before": "修改前",
        "After": "修改后",
        "Field": "字段",
        "No values recorded.": "未记录数值。",
        "Reason": "原因",
        "Use a date (2026-03-31) or a date and time (2026-03-31 14:30).":
            "请输入日期（2026-03-31）或日期和时间（2026-03-31 14:30）。",
        "Audit event {seq}": "审计事件 {seq}",
        "Event {seq} is not in the audit trail: it was removed, or never written.":
            "审计追踪中没有事件 {seq}：它已被删除或从未写入。",
        "Previous hash": "前一哈希",
        "Hash": "哈希",
        "Recomputed": "重新计算",
        "matches: the event is as written": "一致：事件与写入时相同",
        "does not match: the event was changed after it was written": "不一致：事件在写入后被修改",
        "the record changed after it was signed": "记录在签名后被修改",
    }
)
