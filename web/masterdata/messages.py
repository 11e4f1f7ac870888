"""Chinese messages of the master-data pages and of the building blocks the ledger pages share
(keyed by their English text). Keys another feature already translated keep its wording."""

from web.i18n import CATALOG, add_messages

ZH: dict[str, str] = {
    # navigation and shared building blocks
    "Ledger and master data": "库存台账与主数据",
    "Stock": "库存", "Movements": "出入库流水", "Expiry board": "效期看板",
    "Stock counts": "盘点", "Temperatures": "温度记录", "Products": "产品",
    "Parties": "往来单位", "Sites": "仓库", "Locations": "库位",
    "Expired": "已过期", "Near expiry": "近效期", "Missing": "缺失", "Valid": "有效",
    "Not yet valid": "尚未生效",
    "Review pending": "待审核", "Approved": "已批准", "Rejected": "已拒绝",
    "Records": "记录", "Active": "启用", "Deactivated": "已停用", "All": "全部",
    "Search": "搜索", "Electronic signature": "电子签名",
    "Action": "操作",  # the header of a column of buttons, read by screen readers
    "Signing is the legally binding equivalent of your handwritten signature.":
        "电子签名与手写签名具有同等法律效力。",
    "This is your first signature in this session: enter your user name and password.":
        "这是您本次会话中的第一次签名：请输入用户名和密码。",
    "Enter your password to sign.": "请输入密码以签名。",
    "User name": "用户名", "Password": "密码",
    "Save": "保存", "Cancel": "取消", "Edit": "编辑", "Deactivate": "停用", "Activate": "启用",
    "Created": "创建时间", "yes": "是", "no": "否", "Name": "名称",
    "Every change of a regulated record is kept in the audit trail with its reason.":
        "受监管记录的每次修改及其原因都记录在审计追踪中。",
    "Say why.": "请说明原因。",
    "Required.": "必填。", "Code taken.": "编码已被使用。", "GTIN taken.": "GTIN 已被使用。",
    "Not a valid choice.": "不是有效的选项。", "Not a valid date value.": "不是有效的日期。",
    "Not a valid integer value.": "不是有效的整数。",
    # form groups and labels
    "Identification": "标识", "Registration": "注册", "Handling": "储运要求", "Roles": "角色",
    "Contact": "联系人", "Licence": "证照", "Scope": "范围", "Site": "仓库",
    "Location": "库位",
    "Product code": "产品编码", "Party code": "单位编码", "Site code": "仓库编码",
    "Location code": "库位编码",
    "Chinese name": "中文名称", "English name": "英文名称", "Model": "型号",
    "Specification": "规格", "GTIN (UDI-DI)": "GTIN（UDI-DI）",
    "Other UDI-DI (no GTIN)": "其他 UDI-DI（无 GTIN 时）",
    "Registration or filing number": "注册证编号或备案号", "Registration expiry": "注册证有效期至",
    "Device class": "管理类别", "Implantable": "植入类", "Storage from (°C)": "储存温度下限（°C）",
    "Storage to (°C)": "储存温度上限（°C）", "Cold chain": "冷链",
    "Near-expiry warning (days)": "近效期预警（天）",
    "Serialised (one serial number per unit)": "序列号管理（每件一个序列号）",
    "Serialised": "序列号管理", "Manufacturer": "生产企业",
    "FDA-tracked device (21 CFR 821)": "FDA 追踪器械（21 CFR 821）",
    "User facility (hospital, clinic: final user of devices)":
        "使用单位（医院、诊所：器械的最终使用者）",
    "User facility": "使用单位",
    "Reason for the change": "修改原因",
    "Registered name": "注册名称", "Supplier": "供货单位", "Customer": "购货单位",
    "Country (two letters)": "国家（两位字母代码）", "Address": "地址", "Country": "国家",
    "Licence type": "证照类型", "Number": "编号", "Class I": "第一类", "Class II": "第二类",
    "Class III": "第三类", "Scope (as written on the licence)": "经营/生产范围（按证照原文）",
    "Issuer": "发证机关", "Issued on": "发证日期", "Expires on": "有效期至",
    "Region": "地区", "Time zone": "时区", "Zone": "区域",
    "Temperature from (°C)": "温度下限（°C）", "Temperature to (°C)": "温度上限（°C）",
    "Reason": "原因", "Decision": "结论", "What was checked": "审核内容",
    "I": "I", "II": "II", "III": "III", "CN": "中国", "US": "美国", "EU": "欧盟",
    "Business licence (营业执照)": "营业执照",
    "Manufacturing licence or filing (生产许可证/备案凭证)": "医疗器械生产许可证/备案凭证",
    "Operating licence or filing (经营许可证/备案凭证)": "医疗器械经营许可证/备案凭证",
    "Registrant / filer proof (注册人/备案人证明)": "注册人/备案人证明",
    "Authorisation letter (授权书)": "授权书",
    "FDA establishment registration": "FDA 企业注册",
    "EUDAMED actor registration (SRN)": "EUDAMED 经营者注册（SRN）",
    "Other": "其他",
    "Pending inspection / quarantine": "待验/隔离区", "Available": "合格品区",
    "Nonconforming": "不合格品区", "Returns": "退货区", "Shipping": "发货区",
    "supplier": "供货单位", "manufacturer": "生产企业", "customer": "购货单位",
    # products
    "New product": "新建产品", "Edit product {code}": "编辑产品 {code}",
    "The product was created.": "产品已创建。", "The product was changed.": "产品已修改。",
    "Code, name, model, GTIN or registration number": "编码、名称、型号、GTIN 或注册证号",
    "Model / specification": "型号/规格", "Class": "类别", "Storage": "储存",
    "First-purchase review": "首营审核", "implant": "植入", "cold chain": "冷链",
    "No products found.": "未找到产品。", "Storage temperature": "储存温度",
    "First-purchase review (首营品种)": "首营品种审核", "Sign the review": "签署审核",
    "The review was not recorded: fill in the form again.": "审核未记录：请重新填写表单。",
    "The review was signed and recorded.": "审核已签名并记录。",
    # parties and licences
    "suppliers, manufacturers, customers": "供货单位、生产企业、购货单位",
    "New party": "新建往来单位", "Edit party {code}": "编辑往来单位 {code}",
    "The party was created.": "往来单位已创建。", "The party was changed.": "往来单位已修改。",
    "Code, name or contact": "编码、名称或联系人", "party|Role": "类型", "Licences": "证照",
    "No parties found.": "未找到往来单位。", "Licences and certificates": "证照与资质",
    "Add licence": "添加证照", "no expiry": "长期有效", "No licences on file.": "尚无证照。",
    "First-purchase / first-sale review (首营)": "首营审核（首营企业/首营客户）",
    "New licence of {name}": "为 {name} 添加证照", "Edit licence {number}": "编辑证照 {number}",
    "The licence was recorded.": "证照已记录。", "The licence was changed.": "证照已修改。",
    # sites and locations
    "New site": "新建仓库", "Edit site {code}": "编辑仓库 {code}",
    "The site was created.": "仓库已创建。", "The site was changed.": "仓库已修改。",
    "No sites found.": "未找到仓库。",
    "New location": "新建库位", "Edit location {label}": "编辑库位 {label}",
    "The location was created.": "库位已创建。", "The location was changed.": "库位已修改。",
    "Choose a site.": "请选择仓库。", "Temperature range": "温度范围",
    "No locations found.": "未找到库位。",
    # retiring records
    "Deactivate {name}?": "停用 {name}？", "Activate {name} again?": "重新启用 {name}？",
    "Master records are never deleted. A deactivated record stays in the history and in every "
    "trace, but it cannot be used for new receipts, orders or postings.":
        "主数据记录永不删除。停用的记录保留在历史和所有追溯中，但不能再用于新的收货、订单或过账。",
    "The record can be used again for new receipts, orders and postings.":
        "该记录可再次用于新的收货、订单和过账。",
    "Yes, deactivate": "确认停用", "Yes, activate": "确认启用",
    "{name} was deactivated.": "{name} 已停用。", "{name} is active again.": "{name} 已重新启用。",
    "Master data": "主数据", "Recall notices": "召回通知方式",
    "Recall notices by e-mail": "召回通知邮箱",
    "Recall notices by webhook (URL)": "召回通知回调地址",
    "Stock is still on hand here: {total} units.": "此处仍有库存：{total} 件。",
    "Deactivated, it takes no new stock and its stock is no longer picked for orders; the "
    "stock stays traceable. Move it first if it should be sold.":
        "停用后不再接收新库存，其库存也不再被拣货出库；库存仍可追溯。如需销售，请先移库。",
    "The stock on hand stays here, no longer picked for orders.": "库存保留在此，不再拣货出库。",
    "Task": "任务",
    "Tick the box to retire it with its stock, or move the stock first.":
        "请勾选确认连同库存一起停用，或先移库。",
}

add_messages({english: chinese for english, chinese in ZH.items()
              if english not in CATALOG["zh"]})
