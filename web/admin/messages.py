"""Chinese for the admin pages (keys are the English text used in the code and templates)."""

from engine.identity import service as identity
from web.i18n import add_messages

add_messages(
    {
        "Users": "用户",
        "Role policy": "角色策略",
        "API tokens": "接口令牌",
        "Search": "搜索",
        "Name, user name or e-mail": "姓名、用户名或电子邮箱",
        "Status": "状态",
        "All": "全部",
        "Active": "启用",
        "Deactivated": "已停用",
        "Locked": "已锁定",
        "New user": "新建用户",
        "User name": "用户名",
        "Printed name": "签名姓名",
        "Roles": "角色",
        "Role": "角色",
        "Created": "创建时间",
        "Suspended: no valid training": "已暂停：无有效培训记录",
        "No users match.": "没有符合条件的用户。",
        "E-mail": "电子邮箱",
        "Temporary password": "临时密码",
        "The user must change the temporary password at the first log-in. Roles are granted "
        "on the user's page once their training is recorded.":
            "用户首次登录时须修改临时密码。记录培训后，在用户页面授予角色。",
        "At least 10 characters, with letters and digits, not containing the user name.":
            "至少 10 个字符，须包含字母和数字，且不得包含用户名。",
        "Create user": "创建用户",
        "Cancel": "取消",
        "User {username} created. Record their training, then grant roles.":
            "用户 {username} 已创建。请先记录培训，再授予角色。",
        "Deactivate user": "停用用户",
        "Deactivate {name}?": "停用 {name}？",
        "{name} ({username}) will no longer be able to log in, sign or use the API. The "
        "account and its history are kept: users are never deleted, and an administrator can "
        "reactivate it.":
            "{name}（{username}）将无法登录、签名或使用接口。账户及其历史记录均会保留："
            "用户永不删除，管理员可以重新启用。",
        "Reason": "原因",
        "Deactivate": "停用",
        "Deactivate…": "停用…",
        "Reactivate": "重新启用",
        "Unlock": "解锁",
        "{name} is deactivated and can no longer log in.": "{name} 已停用，不能再登录。",
        "{name} is active again.": "{name} 已重新启用。",
        "{name} is unlocked.": "{name} 已解锁。",
        "Say why: a reason is required for this change.": "请说明原因：此项变更必须填写原因。",
        "Must change password": "须修改密码",
        "Password changed": "密码修改时间",
        "Failed log-ins": "登录失败次数",
        "Granted": "授予时间",
        "Revoked": "已撤销",
        "Revoke": "撤销",
        "In force": "有效",
        "No roles granted.": "尚未授予角色。",
        "Reason for revoking {role}": "撤销 {role} 的原因",
        "Grant a role": "授予角色",
        "Grant role": "授予角色",
        "A role is granted only with a valid training record for it (21 CFR 11.10(i)).":
            "只有具备该角色有效培训记录的用户才能被授予该角色（21 CFR 11.10(i)）。",
        "Role {role} granted to {name}.": "已向 {name} 授予角色 {role}。",
        "Role {role} revoked from {name}.": "已撤销 {name} 的角色 {role}。",
        "Choose a listed role.": "请选择列表中的角色。",
        "Record the training first, then grant the role.": "请先记录培训，再授予该角色。",
        "Training records": "培训记录",
        "Trained on": "培训日期",
        "Expires on": "有效期至",
        "Evidence": "证明材料",
        "Recorded": "记录时间",
        "does not expire": "长期有效",
        "Expired": "已过期",
        "Not yet valid": "尚未生效",
        "Valid": "有效",
        "No training recorded.": "尚无培训记录。",
        "Record training": "记录培训",
        "Course, certificate or document number": "课程、证书或文件编号",
        "The training record is incomplete.": "培训记录不完整。",
        "Training for {role} recorded.": "已记录 {role} 的培训。",
        "Say what proves the training (course, certificate, document).":
            "请填写培训的证明材料（课程、证书、文件）。",
        "The expiry date is before the training date.": "有效期早于培训日期。",
        "This field is required.": "此项为必填。",
        "Recent changes": "最近变更",
        "Actor": "操作人",
        "Action": "操作",
        "No events yet.": "尚无事件。",
        "Full audit trail of this user": "该用户的完整审计追踪",
        "Users holding a role marked here must log in with two factors; they are asked to set "
        "it up at their next log-in.": "持有此处所勾选角色的用户必须使用双因素登录；"
        "他们将在下次登录时被要求完成设置。",
        "Two-factor log-in required": "要求双因素登录",
        "May do": "权限",
        "Save policy": "保存策略",
        "Two-factor policy saved: {roles}.": "双因素登录策略已保存：{roles}。",
        "Nothing changed.": "没有任何变更。",
        "New token": "新令牌",
        "Copy it now: it is shown only this once and only its hash is stored.":
            "请立即复制：令牌只显示这一次，系统仅保存其哈希值。",
        "Prefix": "前缀",
        "API client": "接口客户端",
        "What it is for": "用途",
        "Expires": "到期时间",
        "Last used": "最近使用",
        "never": "从未",
        "Revoke…": "撤销…",
        "No API tokens yet.": "尚无接口令牌。",
        "Create a token": "创建令牌",
        "Valid for (days)": "有效天数",
        "Create token": "创建令牌",
        "No user holds the API client role: grant it on a user's page first.":
            "没有用户持有接口客户端角色：请先在用户页面授予该角色。",
        "Choose an API client, say what the token is for and give 1-730 days.":
            "请选择接口客户端、填写用途，并给出 1 至 730 天的有效期。",
        "Revoke token": "撤销令牌",
        "Revoke token {prefix}…?": "撤销令牌 {prefix}…？",
        "“{name}” of {client} stops working at once. A revoked token cannot be restored; "
        "create a new one if needed.": "{client} 的“{name}”将立即失效。已撤销的令牌无法恢复；"
        "如有需要请创建新令牌。",
        "I understand this cannot be undone": "我了解此操作无法撤回",
        "Token {prefix}… revoked: it no longer opens the API.":
            "令牌 {prefix}… 已撤销，不能再访问接口。",
        "You cannot deactivate yourself.": "您不能停用自己。",
        identity.OWN_GRANT: "您不能为自己授予角色：须由另一名系统管理员操作。",
        identity.OWN_REVOKE: "您不能撤销自己的角色：须由另一名系统管理员操作。",
        identity.OWN_TRAINING: "您不能记录自己的培训：须由另一名系统管理员或质量负责人操作。",
        identity.LAST_ADMINISTRATOR_REVOKE:
            "不能撤销最后一名启用中的系统管理员的系统管理员角色：GxPFlow 必须始终有一名系统管理员。"
            "请先让另一名已培训的用户成为系统管理员，再由其撤销。",
        identity.LAST_ADMINISTRATOR_DEACTIVATE:
            "不能停用最后一名启用中的系统管理员：GxPFlow 必须始终有一名系统管理员。"
            "请先让另一名已培训的用户成为系统管理员，再由其停用此账户。",
        "A reason is required for this change.": "此项变更必须填写原因。",
        "Say why the record is changed.": "请说明修改记录的原因。",
        "The user could not be created.": "无法创建用户。",
        "Use 2-60 letters, digits, dots, dashes or underscores.":
            "请使用 2 至 60 个字母、数字、点、连字符或下划线。",
        "The printed name is required: it appears on signatures.":
            "签名姓名为必填项：它会显示在电子签名上。",
        "This user name is taken.": "该用户名已被占用。",
        "The password does not meet the policy.": "密码不符合密码策略。",
        "Default": "默认",
        "Default ({value})": "默认（{value}）",
        "The preferences were not saved.": "偏好设置未保存。",
        "Choose a listed time zone.": "请选择列表中的时区。",
        "Choose a listed language.": "请选择列表中的语言。",
        "Your own roles and training are changed by another administrator (segregation "
        "of duties).": "您本人的角色和培训记录须由另一名系统管理员更改（职责分离）。",
        "Reset password": "重置密码",
        "Reset two-factor": "重置双因素登录",
        "Reset the password of {name}? The current password stops working at once.":
            "重置 {name} 的密码？当前密码将立即失效。",
        "The user must change it at their next log-in; a lock-out is lifted.":
            "用户须在下次登录时修改此密码；账户锁定将一并解除。",
        "The password was not reset.": "密码未重置。",
        "Say why the password is reset.": "请说明重置密码的原因。",
        "The password of {name} was reset. Give them the temporary password yourself: they "
        "must change it at their next log-in.":
            "{name} 的密码已重置。请亲自将临时密码告知本人：其须在下次登录时修改。",
        "Reset the two-factor log-in of {name}? Their authenticator app and recovery codes "
        "stop working at once.": "重置 {name} 的双因素登录？其认证器应用和恢复码将立即失效。",
        "For a lost or replaced phone. Where a role of theirs requires two-factor log-in, they "
        "set it up again at their next log-in.":
            "用于手机丢失或更换。若其角色要求双因素登录，其须在下次登录时重新设置。",
        "Two-factor log-in was not reset.": "双因素登录未重置。",
        "Two-factor log-in of {name} is reset: their old codes and recovery codes no longer "
        "work.": "{name} 的双因素登录已重置：原验证码和恢复码均已失效。",
        "Your own password and two-factor log-in are reset by another administrator; you can "
        "change them yourself:":
            "您本人的密码和双因素登录须由另一名系统管理员重置；您也可以自行修改：",
        identity.OWN_PASSWORD_RESET: identity.OWN_PASSWORD_RESET_ZH,
        identity.OWN_SECOND_FACTOR_RESET: identity.OWN_SECOND_FACTOR_RESET_ZH,
        "Revoke the role {role} from {name}? They lose its tasks and permissions at once.":
            "撤销 {name} 的角色 {role}？其任务和权限立即失效。",
        # refusals of API tokens (engine.identity.service)
        "A token lives between 1 and 730 days.": "令牌有效期须在 1 至 730 天之间。",
        "This token is already revoked.": "该令牌已被撤销。",
        "The API token is unknown, revoked or expired.": "接口令牌未知、已撤销或已过期。",
        "The API client's user is deactivated.": "该接口客户端的用户已停用。",
    }
)
