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
    "Edit the diagram, then deploy it as a new version. User tasks need a spiffworkflow property "
    "'step' and a lane named after a role, e.g. 'Inspector (inspector)'.":
        "编辑流程图后部署为新版本。用户任务需要 spiffworkflow 属性 'step'，"
        "并位于以角色命名的泳道中，例如 'Inspector (inspector)'。",
    # starting
    "Subject": "主题",
    "Site": "仓库",
    "e.g. PO-2024-0117, lot L240501": "例如 PO-2024-0117、批号 L240501",
    "Started {key} #{id}.": "已启动 {key} #{id}。",
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
})
