"""Chinese for the inbox and the task page (and the workflow words both blueprints show)."""

from web.i18n import add_messages

add_messages({
    # tabs, list and filters
    "My tasks": "我的任务",
    "Unclaimed for my roles": "我的角色待认领",
    "Overdue": "已逾期",
    "Search": "搜索",
    "Subject or title": "主题或标题",
    "Process": "流程",
    "All": "全部",
    "Step": "步骤",
    "Filter": "筛选",
    "Task": "任务",
    "Assignee": "处理人",
    "Created": "创建时间",
    "Due": "截止时间",
    "Claim": "认领",
    "Release": "释放",
    "Open": "打开",
    "No tasks here.": "这里没有任务。",
    "unclaimed": "未认领",
    "assigned to {name}": "已分配给 {name}",
    "The task is yours now.": "任务已由您认领。",
    "The task is back in the unclaimed list of its role.": "任务已退回其角色的待认领列表。",
    "The task is assigned to {name}.": "任务已分配给 {name}。",
    "Assign or reassign": "分配或改派",
    "Assign to": "分配给",
    "Assign": "分配",
    "Reason": "原因",
    # the task page
    "Role": "角色",
    "Status": "状态",
    "Completed": "完成时间",
    "Four-eyes": "双人复核",
    "Nothing to list.": "没有可列出的内容。",
    "Someone other than the performer of “{title}” must do this.":
        "须由“{title}”执行人以外的人员完成。",
    "Someone other than {name}, who performed “{title}”, must do this.":
        "须由“{title}”的执行人 {name} 以外的人员完成。",
    "You performed “{title}” in this process: another person must do this task.":
        "您在本流程中执行了“{title}”：此任务须由另一人完成。",
    "Form": "表单",
    "Please correct the fields marked below.": "请更正下方标出的字段。",
    "One value per line.": "每行一个值。",
    "Up to {count} files, {size} MB each; kept with their SHA-256 as evidence.":
        "最多 {count} 个文件，每个不超过 {size} MB；文件连同其 SHA-256 作为记录保存。",
    "In your time zone unless you add one.": "未注明时区时按您的时区。",
    "This task has no fields: complete it when the work is done.":
        "此任务没有字段：工作完成后直接提交。",
    "Complete": "完成",
    "Sign and complete": "签名并完成",
    "Task completed: {title}.": "任务已完成：{title}。",
    "The step was refused": "此步骤被拒绝",
    "Nothing was saved but a record of this attempt in the audit trail.":
        "除审计追踪中的本次尝试记录外，未保存任何内容。",
    "Refused attempts": "被拒绝的尝试",
    "History": "历史",
    "Event": "事件",
    "Data": "数据",
    "Nothing has happened yet.": "尚无记录。",
    "This step must be signed ({meaning}): enter your password below and submit again.":
        "此步骤需要电子签名（{meaning}）：请在下方输入密码后重新提交。",
    "This task is already {status}.": "此任务已{status}。",
    "The process is {status}; its tasks cannot be completed.":
        "流程状态为{status}，其任务无法完成。",
    "This task is for the role {role}; you do not hold it.":
        "此任务属于角色{role}，您不具备该角色。",
    "This task is claimed by someone else.": "此任务已被他人认领。",
    "This task can no longer be opened from its process.": "此任务已无法从其流程中打开。",
    # the signature box
    "Electronic signature": "电子签名",
    "Signing means:": "签名含义：",
    "Your signature is bound to this record and recorded with your printed name, the time and "
    "its meaning (21 CFR 11.50, 11.200).":
        "您的签名与本记录绑定，并连同您的姓名、时间和签名含义一并记录（21 CFR 11.50、11.200）。",
    "The password is wrong; the record was not signed.": "密码错误，记录未签名。",
    "Enter your own user name and password to sign: this is your first signature in this "
    "session.": "请输入您本人的用户名和密码进行签名：这是您本次会话的首次签名。",
    "This account cannot sign: it is deactivated or locked.": "此账户无法签名：已停用或被锁定。",
    # statuses and history events
    "task|open": "待办", "completed": "已完成", "cancelled": "已取消", "running": "运行中",
    "waiting": "等待中", "error": "出错", "suspended": "已暂停", "terminated": "已终止",
    "started": "已启动", "timer": "定时器", "message": "消息", "service": "服务调用",
    "retry": "重试", "blocked": "被拦截", "pending": "待执行", "done": "已完成",
    "failed": "失败",
    # gate verdict effects (the others read as on the rule pack pages)
    "warn": "警告", "effect|quarantine": "隔离", "notify_within": "限期通知", "verdict": "判定",
})
