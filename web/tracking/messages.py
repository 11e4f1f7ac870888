"""Chinese for the device tracking pages (keys are the English text used in the code and
templates)."""

from web.i18n import add_messages

add_messages(
    {
        "Device tracking": "器械追踪",
        "Device tracking reports": "器械追踪报告",
        "Tracking report": "追踪报告",
        "Reports a tracked device's receipt or final sale sends its manufacturer (21 CFR 821). "
        "Quality managers stay responsible: a report without a channel is sent by other means.":
            "追踪器械收货或最终销售时发送给制造商的报告（21 CFR 821）。质量负责人仍对此负责："
            "无联系渠道的报告须通过其他方式发送。",
        "Search": "搜索",
        "Product or lot": "产品或批号",
        "Status": "状态",
        "All": "全部",
        "sent": "已发送",
        "no channel": "无联系渠道",
        "waiting to be sent": "等待发送",
        "delivery failed": "发送失败",
        "Report": "报告",
        "Event": "事件",
        "received": "收货",
        "Product": "产品",
        "Lot": "批号",
        "Serial numbers": "序列号",
        "Quantity": "数量",
        "Date": "日期",
        "From / to": "来源/去向",
        "Received from": "收货来源",
        "Provided to": "发往",
        "none on file": "未登记",
        "Created": "创建时间",
        "Rule": "规则",
        "Process": "流程",
        "Step": "步骤",
        "Patient data": "患者追踪数据",
        "Overdue": "已逾期",
        "No tracking reports.": "暂无追踪报告。",
        "Delivery attempts": "送达记录",
        "Time": "时间",
        "Channel": "渠道",
        "Target": "目标",
        "Attempt": "次数",
        "Detail": "详情",
        "email": "电子邮件",
        "webhook": "Webhook",
        "none": "无",
        "No attempt yet.": "尚未尝试发送。",
        "What the manufacturer receives": "制造商收到的内容",
        "Send again": "重新发送",
        "Send this tracking report to the manufacturer again?": "重新向制造商发送此追踪报告？",
        "Tracking report {reference} is being sent again.": "追踪报告 {reference} 正在重新发送。",
        "The form expired; open the page and try again.": "表单已过期，请重新打开页面再试。",
        "All tracking reports": "全部追踪报告",
        "Sent by other means": "已通过其他方式发送",
        "When no channel can deliver it, send the report by phone, letter, fax or the "
        "manufacturer's portal, then record it here.":
            "无渠道可送达时，请通过电话、信函、传真或制造商门户发送报告，然后在此登记。",
        "How": "方式",
        "Who sent it to whom, and when": "由谁于何时发送给谁",
        "Record as sent": "登记为已发送",
        "Record that this report reached the manufacturer by other means? The record cannot "
        "be undone.": "确认登记此报告已通过其他方式送达制造商？登记后不可撤销。",
        "Tracking report {reference} is recorded as sent by other means.":
            "追踪报告 {reference} 已登记为通过其他方式发送。",
        "phone": "电话",
        "letter": "信函",
        "fax": "传真",
        "portal": "门户网站",
        "other": "其他",
        "manual": "其他方式",
        "Choose how it was sent.": "请选择发送方式。",
        "Say who sent it to whom, and when.": "请说明由谁于何时发送给谁。",
        "The record was not saved.": "登记未保存。",
    }
)
