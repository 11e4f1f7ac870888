"""Chinese messages of the ledger pages (keyed by their English text). Keys another feature
already translated keep its wording."""

from web.i18n import CATALOG, add_messages

ZH: dict[str, str] = {
    # statuses and movement kinds
    "quarantine": "待验", "available": "合格", "picked": "已拣货", "nonconforming": "不合格",
    "recalled": "召回冻结", "shipped": "已发货", "scrapped": "已报废", "missing": "盘亏",
    "receive": "收货", "putaway": "上架", "move": "移库", "status_change": "状态变更",
    "pick": "拣货", "ship": "发货", "return": "退货", "return_supplier": "购进退出",
    "count_adjust": "盘点调整",
    "scrap": "报废", "recall_hold": "召回冻结", "recall_release": "召回解冻",
    "reversal": "冲销", "open": "进行中", "posted": "已过账", "cancelled": "已取消",
    "inbound": "入库", "outbound": "出库",
    # stock and the scan box
    "by product, lot, location and status": "按产品、批号、库位和状态",
    "Scan a UDI label": "扫描 UDI 标签", "Find lot": "查找批次",
    "Scan or type a GS1 barcode (with GS separators or in brackets); the scanner's Enter "
    "opens the lot.": "扫描或输入 GS1 条码（带 GS 分隔符或括号格式）；扫描枪的回车键将打开该批次。",
    "Product, GTIN, lot or serial": "产品、GTIN、批号或序列号",
    "Product": "产品", "Lot": "批号", "Expiry": "有效期", "Status": "状态", "Quantity": "数量",
    "Locked": "已锁定", "{count} serials": "{count} 个序列号", "No stock found.": "未找到库存。",
    # lot page and trace
    "All movements of this lot": "该批次的全部流水", "Production date": "生产日期",
    "{days} days left": "剩余 {days} 天", "Lock reason": "锁定原因", "Received first": "首次收货",
    "Balances": "库存余额", "Serial": "序列号", "On hand": "在库合计",
    "Nothing of this lot is on hand.": "该批次已无在库库存。", "Serial numbers": "序列号",
    "Where": "位置", "Trace": "追溯", "serial": "序列号", "whole lot": "整个批次",
    "Suppliers": "供货单位", "Customers": "购货单位",
    "Returned to suppliers": "退回供货单位",
    "Net quantity at customers": "客户处净数量",
    "Backward: where it came from": "反向追溯：来源",
    "receipts, suppliers, inspection decisions": "收货、供货单位、验收结论",
    "Forward: where it went": "正向追溯：去向",
    "shipments, returns, customers": "发货、退货、购货单位",
    "shipments, returns, customers, returns to suppliers": "发货、退货、购货单位、购进退出",
    "No receipts.": "没有收货记录。", "Nothing shipped.": "没有发货记录。",
    "Time": "时间", "Kind": "类型", "Party": "往来单位", "Document": "单据号", "By": "操作人",
    "Workflow": "流程", "Reversed by movement {id}": "已被流水 {id} 冲销",
    # movements
    "append-only: a correction is a reversing movement": "只增不改：更正以冲销流水进行",
    "From": "起始时间", "To": "截止时间", "Source": "来源", "Destination": "去向",
    "Dates are days in your time zone ({zone}).": "日期按您的时区（{zone}）计算。",
    "Use a date like 2026-03-31.": "请使用 2026-03-31 这样的日期格式。",
    "reverses #{id}": "冲销 #{id}", "reversed by #{id}": "已被 #{id} 冲销",
    "Movements of this workflow instance": "该流程实例的流水",
    "No movements found.": "未找到流水。",
    # expiry board
    "Stock on hand that has expired, or expires within its product's near-expiry threshold, "
    "judged by the calendar date at the site. Expired stock is moved to nonconforming and "
    "locked by the daily scan.": "已过期或在产品近效期阈值内到期的在库库存，按仓库所在地日期判断。"
    "过期库存由每日扫描移入不合格品区并锁定。",
    "{count} lot(s)": "{count} 个批次", "Days left": "剩余天数",
    "threshold {days} days": "阈值 {days} 天", "expired {days} days ago": "已过期 {days} 天",
    "Nothing here.": "暂无。",
    # stock counts
    "Open a count sheet for": "为以下库位创建盘点单", "Open count sheet": "创建盘点单",
    "While a sheet is open its location is frozen: nothing can be posted there until the count "
    "is posted or cancelled.": "盘点单进行中时该库位被冻结：在盘点过账或取消之前不能在此过账。",
    "Sheet number or location": "盘点单号或库位", "Sheet": "盘点单", "Opened": "开始时间",
    "Closed": "关闭时间", "Lines": "行数", "No count sheets yet.": "尚无盘点单。",
    "Count sheet": "盘点单", "Expected": "账面数", "Counted": "实盘数", "Variance": "差异",
    "Note": "备注", "The ledger holds nothing at this location.": "账面上该库位没有库存。",
    "Stock the ledger did not expect": "账外发现的库存",
    "Product code or GTIN": "产品编码或 GTIN", "Save counts": "保存盘点数",
    "Post the count": "盘点过账",
    "Each variance is posted as a count adjustment movement with this reason. Every line must "
    "be counted (0 when nothing is there).":
        "每项差异都将以此原因过账为盘点调整流水。每行都必须盘点（没有实物时填 0）。",
    "Reason for the variances": "差异原因", "Sign and post": "签名并过账",
    "Cancel the count": "取消盘点",
    "Cancel this count sheet? Nothing will be posted.": "取消此盘点单？不会过账任何调整。",
    "Cancel count sheet": "取消盘点单", "Signatures": "签名",
    "Count sheet {number} is open: the location is frozen until it is posted or cancelled.":
        "盘点单 {number} 已创建：在过账或取消之前该库位被冻结。",
    "The form was not accepted; reload the page.": "表单未被接受，请刷新页面。",
    "Count a whole number, 0 or more.": "请填写 0 或以上的整数。",
    "Found during the count": "盘点时发现", "The counts were saved.": "盘点数已保存。",
    "Count sheet {number} was signed and posted: {count} adjustment(s).":
        "盘点单 {number} 已签名并过账：{count} 笔调整。",
    "Count sheet {number} was cancelled.": "盘点单 {number} 已取消。",
    "approved": "批准", "reviewed": "审核",
    # temperatures
    "Import temperature readings": "导入温度记录",
    "A logger's CSV file with a header naming a time column (recorded_at) and a temperature "
    "column (celsius). A file with an unreadable line is refused as a whole: nothing is "
    "imported.": "温度记录仪导出的 CSV 文件，表头须包含时间列（recorded_at）和温度列（celsius）。"
    "文件中有任何一行无法读取时整个文件被拒绝，不导入任何数据。",
    "File": "文件", "Logger CSV file": "温度记录仪 CSV 文件", "Readings of": "记录对象",
    "A storage location": "储存库位", "A shipment": "运输批次",
    "Shipment or receipt number": "发货单或收货单号", "Direction": "方向",
    "Inbound": "入库运输", "Outbound": "出库运输",
    "Time zone of times without an offset": "无时差标记时间所用的时区",
    "Import": "导入", "Imported records": "已导入的记录",
    "Shipment, file or location": "运输单号、文件或库位",
    "Only with excursions": "仅显示有超温的", "readings|Subject": "对象",
    "Readings from": "记录开始", "to": "至", "Readings": "读数", "Excursions": "温度超限",
    "Imported": "导入时间", "{count} excursion(s)": "{count} 处超限", "in range": "在范围内",
    "No temperature records yet.": "尚无温度记录。", "Temperature record": "温度记录",
    "shipment": "运输", "Location range": "库位温度范围",
    "Goods in this shipment": "本次运输的货物",
    "Range of": "范围对象", "Permitted": "允许范围", "Lowest": "最低", "Highest": "最高",
    "Readings outside": "超限读数",
    "the location's own range": "库位自身温度范围",
    "Every reading is within the permitted ranges.": "所有读数均在允许范围内。",
    "Sensor": "传感器", "{count} more readings are not shown.": "另有 {count} 条读数未显示。",
    "{count} reading(s) imported; {excursions} excursion(s) flagged and quality notified.":
        "已导入 {count} 条读数；标记 {excursions} 处超限并已通知质量负责人。",
    "{count} reading(s) imported; all within range.": "已导入 {count} 条读数，全部在范围内。",
    "Product, lot or site": "产品、批号或仓库",
    "Showing the first {shown} of {total} lots: search to narrow the list.":
        "仅显示前 {shown} 个批次（共 {total} 个），请搜索以缩小范围。",
    # refusals of counts, temperature imports and traces (engine.ledger)
    "Count a whole number, 0 or more (0 or 1 for a serial number).":
        "请填写 0 或以上的整数（序列号只能填 0 或 1）。",
    "Invalid count.": "盘点数无效。", "Unknown.": "未知。",
    "Found stock is counted as available: only an order's pick reserves stock.":
        "盘点时发现的库存计为合格：只有订单的拣货才会占用库存。",
    "Not picked.": "不是已拣货库存。",
    "Say why the stock differs (or confirm the count).": "请说明库存差异的原因（或确认盘点结果）。",
    "Count every line, 0 when nothing is there.": "每行都须盘点，没有实物时填 0。",
    "The CSV needs a header with a time column (recorded_at) and a temperature column "
    "(celsius).": "CSV 文件须有表头，包含时间列（recorded_at）和温度列（celsius）。",
    "Missing columns.": "缺少列。",
    "The CSV has unreadable lines; nothing was imported.":
        "CSV 文件中有无法读取的行，未导入任何数据。",
    "The CSV has no readings.": "CSV 文件中没有读数。", "Empty.": "空文件。",
    "Use an IANA zone.": "请使用 IANA 时区名称。",
    "Readings belong to a location or to a shipment (one of them).":
        "读数须属于一个库位或一次运输（二者选一）。",
    "Say whether the shipment is inbound or outbound.": "请说明是入库运输还是出库运输。",
    "inbound or outbound": "入库或出库",
    "Give a lot number or a serial number to trace.": "请填写要追溯的批号或序列号。",
    "Lot or serial required.": "须填写批号或序列号。",
    "Not a CSV text file.": "不是 CSV 文本文件。",
}

add_messages({english: chinese for english, chinese in ZH.items()
              if english not in CATALOG["zh"]})
