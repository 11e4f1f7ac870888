"""Chinese for the processes pages: definitions, deployment, the modeler and instances."""

from web.i18n import add_messages

add_messages({
    "Required: the site where this happens.": "必填：业务发生的仓库。",
    "Process definitions": "流程定义",
    "Instances": "流程实例",
    "Delivery note": "随货同行单",
    "Print": "打印",
    "Upload a new version": "上传新版本",
    "New process in the modeler": "在建模器中新建流程",
    "Key or name": "标识或名称",
    "Key": "标识",
    "Name": "名称",
    "Deployed by": "部署人",
    "Deployed": "部署时间",
    "Signature": "签名",
    "Start": "发起",
    "XML": "XML",
    "No process is deployed.": "尚未部署任何流程。",
    "active": "生效", "draft": "草稿", "retired": "已停用",
    "command line": "命令行",
    "valid": "有效",
    "not signed (loaded from the command line)": "未签名（由命令行加载）",
    "the record changed after it was signed": "记录在签名后被修改",
    "the signature record was altered or moved": "签名记录被篡改或移动",
    "File": "文件",
    "Note": "备注",
    "Download XML": "下载 XML",
    "Edit in the modeler": "在建模器中编辑",
    "Diagram": "流程图",
    "Versions": "版本",
    "now": "当前",
    "done": "已完成",
    "waiting now": "当前等待",
    "The diagram cannot be shown": "无法显示流程图",
    "The diagram viewer (bpmn-js) is not installed: run bin/setup-assets.":
        "流程图查看器（bpmn-js）未安装：请运行 bin/setup-assets。",
    "The modeler (bpmn-js) is not installed: run bin/setup-assets.":
        "建模器（bpmn-js）未安装：请运行 bin/setup-assets。",
    "It starts by a message or a timer, not by a person.":
        "该流程由消息或定时器启动，而非人工启动。",
    "Its start event is marked startable = false.":
        "其开始事件标记为不可人工启动（startable = false）。",
    "Other processes call it; it starts from them.": "该流程由其他流程调用启动。",
    "Only the active version of a process can be started.": "只有生效版本的流程可以启动。",
    # deploying
    "BPMN file": "BPMN 文件",
    "Why this version": "本版本的原因",
    "Sign and deploy": "签名并部署",
    "Deploy as new version": "部署为新版本",
    "Modeler": "建模器",
    "The file was refused.": "文件被拒绝。",
    "line": "行",
    "Choose a BPMN file to upload.": "请选择要上传的 BPMN 文件。",
    "Enter your password to sign the deployment.": "请输入密码为本次部署签名。",
    "Some fields are not valid.": "部分字段无效。",
    "Someone deployed this process at the same time; reload and try again.":
        "有人同时部署了此流程，请刷新后重试。",
    "Deployed {key} version {version}, signed.": "已部署 {key} 第 {version} 版，已签名。",
    "The file is checked first (SpiffWorkflow's parser and GxPFlow's conventions: every user "
    "task names its step and lies in a role's lane, scripts run restricted). A valid file "
    "becomes the active version of its process; running instances stay on their version.":
        "文件先经过检查（SpiffWorkflow 解析器及 GxPFlow 约定：每个用户任务须注明其步骤"
        "并位于某角色的泳道中，脚本在受限环境中运行）。通过检查的文件成为该流程的生效版本；运行中的实例保持原版本。",
    "Edit the diagram, then deploy it as a new version. Select an element to edit its "
    "properties in the panel: a user task needs a compliance step and a lane named after a role, "
    "e.g. 'Inspector (inspector)'.":
        "编辑流程图后部署为新版本。选中元素即可在属性面板中编辑其属性：用户任务需要合规步骤，"
        "并位于以角色命名的泳道中，例如 'Inspector (inspector)'。",
    # starting
    "Subject": "主题",
    "Site": "仓库",
    "e.g. PO-2024-0117, lot L240501": "例如 PO-2024-0117、批号 L240501",
    "Started {key} #{id}.": "已启动 {key} #{id}。",
    "Started {key} #{id}: its first task is yours.": "已启动 {key} #{id}：第一个任务由您办理。",
    "The process {key} cannot be started from a page: {reason}":
        "流程 {key} 不能从页面启动：{reason}",
    # instances
    "Started": "发起时间",
    "Started by": "启动人",
    "Updated": "更新时间",
    "Ended": "结束时间",
    "system": "系统",
    "No instances.": "没有流程实例。",
    "Human tasks": "人工任务",
    "No human tasks yet.": "尚无人工任务。",
    "Service calls": "服务调用",
    "Connector": "连接器",
    "Attempts": "尝试次数",
    "Finished": "结束时间",
    "Retry": "重试",
    "Retried: #{id}.": "已重试：#{id}。",
    "Retry the failed service calls of this process?": "重试此流程中失败的服务调用？",
    "Manage": "管理",
    "Suspend": "暂停", "Resume": "恢复", "Terminate": "终止",
    "Suspended": "已暂停", "Resumed": "已恢复", "Terminated": "已终止",
    "Ends the process for good: its open tasks are cancelled.":
        "永久结束此流程：其未完成任务将被取消。",
    "Goods it picked become available again where they lie.": "已拣货的商品在原处恢复为合格可用。",
    "I confirm": "我确认",
    "Are you sure?": "确定吗？",
    "A reason is required.": "必须填写原因。",
    "Tick the box to confirm.": "请勾选以确认。",
    "#": "#",
    "Process key": "流程标识",
    "Give the new process its key.": "请为新流程填写标识。",
    "The new process's own key (lower-case letters, digits and _): it names all its "
    "versions and cannot be changed later.":
        "新流程的标识（小写字母、数字和下划线）：用于其所有版本，之后不能更改。",
    "Lower-case letters, digits and _ only, starting with a letter.":
        "只能使用小写字母、数字和下划线，并以字母开头。",
    # the modeler's properties panel and its check
    "Properties": "属性",
    "Nothing is selected: this is the whole diagram. Select an element on the canvas to edit it.":
        "未选择元素：以下为整个流程图。在画布上选择一个元素即可编辑。",
    "{count} elements are selected: select one to edit it.":
        "已选择 {count} 个元素：请只选择一个进行编辑。",
    "Id": "标识",
    "Type": "类型",
    "Task for a person": "人工任务",
    "The compliance step the task performs, as area.action, e.g. receiving.inspect.":
        "该任务执行的合规步骤，格式为 领域.动作，例如 receiving.inspect。",
    "Required: a task that waits for a person names its step.":
        "必填：等待人工处理的任务须注明其步骤。",
    "Not of the form area.action (lower-case letters, digits and _).":
        "格式不是 领域.动作（小写字母、数字和下划线）。",
    "no signature": "无需签名",
    "The meaning of the electronic signature the step requires.": "该步骤所需电子签名的含义。",
    "Due in hours": "处理时限（小时）",
    "How long the task may stay open before it is overdue.": "任务在逾期前可保持未完成的时长。",
    "Not a positive number of hours.": "不是正数小时。",
    "Four eyes with": "双人原则对应步骤",
    "A step whose performer may not perform this one (area.action), or =variable naming it.":
        "其执行人不得执行本任务的步骤（领域.动作），或以 =变量名 指定该步骤。",
    "Neither a step (area.action) nor =variable.": "既不是步骤（领域.动作），也不是 =变量名。",
    "Form (JSON)": "表单（JSON）",
    'The fields the task asks for: {"fields": [{"name": ..., "type": ..., "label": {"en": ..., '
    '"zh": ...}}]}.':
        '任务要求填写的字段：{"fields": [{"name": ..., "type": ..., "label": {"en": ..., '
        '"zh": ...}}]}。',
    "Not valid JSON (it is kept; the check at deploy has the last word):":
        "不是有效的 JSON（内容会保留，以部署时的检查为准）：",
    "Script": "脚本",
    "Python, run by the restricted script engine on the process data.":
        "Python 脚本，由受限脚本引擎基于流程数据执行。",
    "Condition": "条件",
    'A Python expression on the process data, e.g. conclusion == "rejected". Empty: no '
    "condition.": '基于流程数据的 Python 表达式，例如 conclusion == "rejected"。留空表示无条件。',
    "Default flow: taken when no condition holds": "默认流：没有条件成立时走此路径",
    "Timer": "定时器",
    "Kind of timer": "定时器类型",
    "Duration": "时长",
    "Cycle": "周期",
    "Expression": "表达式",
    'A Python expression: ISO 8601 text in quotes, e.g. "PT48H", or a variable of the process '
    "data.": 'Python 表达式：ISO 8601 文本须加引号，例如 "PT48H"，或流程数据中的变量。',
    "Choose a role…": "选择角色…",
    "A lane's name ends with its role id in parentheses, e.g. Inspector (inspector); its tasks "
    "go to that role.":
        "泳道名称以括号中的角色标识结尾，例如 Inspector (inspector)；其中的任务分派给该角色。",
    "This name names no role: tasks in this lane cannot be deployed.":
        "该名称未指明任何角色：此泳道中的任务无法部署。",
    "Process id": "流程标识",
    "Process name": "流程名称",
    "Main process: the one that starts (needed when the file has several)":
        "主流程：被启动的流程（文件含多个流程时必须指定）",
    "Check": "检查",
    "Checking…": "正在检查…",
    "The check could not be run": "无法执行检查",
    "Checks the diagram as deploying would, without deploying it.":
        "按部署时的标准检查流程图，但不部署。",
    "Send the diagram's XML as JSON: an object with the key xml.":
        "请以 JSON 发送流程图的 XML：一个包含 xml 键的对象。",
    "This diagram's process id is {found}, but the modeler is editing {key}: deploying would be "
    "refused.": "此流程图的流程标识为 {found}，而正在编辑的是 {key}：部署将被拒绝。",
    "No problems found in the diagram.": "流程图中未发现问题。",
    "Deploying would be refused: correct the problems listed.": "部署将被拒绝：请更正所列问题。",
    "Diagram with pools": "含池的流程图",
    "Pool": "池",
    "Lane": "泳道",
    "Task (waits for a person)": "任务（等待人工处理）",
    "User task": "用户任务",
    "Manual task": "手工任务",
    "Script task": "脚本任务",
    "Service task": "服务任务",
    "Call activity": "调用活动",
    "Subprocess": "子流程",
    "Sequence flow": "顺序流",
    "Exclusive gateway": "排他网关",
    "Parallel gateway": "并行网关",
    "Inclusive gateway": "包容网关",
    "Event-based gateway": "事件网关",
    "Start event": "开始事件",
    "End event": "结束事件",
    "Intermediate catch event": "中间捕获事件",
    "Intermediate throw event": "中间抛出事件",
    "Boundary event": "边界事件",
    "Text annotation": "文本注释",
    "Service call": "服务调用",
    "The registered connector the task calls (the engine's own or a plugin's).":
        "任务调用的已注册连接器（引擎自带的或插件提供的）。",
    "Choose a connector…": "选择连接器…",
    "{name} (not registered)": "{name}（未注册）",
    "Required: a service task names the connector it calls.":
        "必填：服务任务须指明所调用的连接器。",
    "This connector is not registered here: deploying would be refused.":
        "此连接器在此未注册：部署将被拒绝。",
    "Result variable": "结果变量",
    "Where the connector's result (a dictionary) goes in the process data. Empty: "
    "spiff__<task id>_result.":
        "连接器的结果（字典）存入流程数据的位置。留空：spiff__<任务标识>_result。",
    "Not a Python identifier (letters, digits and _, not starting with a digit).":
        "不是 Python 标识符（字母、数字和 _，不以数字开头）。",
    "Parameters": "参数",
    "No parameters.": "无参数。",
    "What the connector is called with: a name, and a Python expression on the process data "
    "giving its value, e.g. product.":
        "调用连接器时传入的参数：名称，以及基于流程数据求值的 Python 表达式，例如 product。",
    "Parameter {number} name": "参数 {number} 名称",
    "Parameter {number} expression": "参数 {number} 表达式",
    "Remove": "移除",
    "Remove parameter {number}": "移除参数 {number}",
    "Add a parameter": "添加参数",
    "Parameter {number}:": "参数 {number}：",
    "the name is missing (a row without one is not saved).": "缺少名称（无名称的行不会保存）。",
    "the name is not a Python identifier.": "名称不是 Python 标识符。",
    "the name is used twice.": "名称重复。",
    "the expression is missing.": "缺少表达式。",
})
