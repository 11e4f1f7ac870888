"""Chinese for the auth pages (keys are the English text used in the code and templates)."""

from itertools import combinations

from engine.identity.service import MIN_PASSWORD_LENGTH
from web.i18n import add_messages

add_messages(
    {
        "Preferences": "偏好设置",
        "Now in {zone}: {time}": "{zone} 当前时间：{time}",
        "Times are stored in UTC and shown in this zone.": "时间以 UTC 存储，按此时区显示。",
        "Save preferences": "保存偏好设置",
        "Your preferences were saved.": "偏好设置已保存。",
        "The preferences were not saved.": "偏好设置未保存。",
        "{field}: {reason}": "{field}：{reason}",
        "Choose a listed time zone.": "请选择列表中的时区。",
        "Choose a listed language.": "请选择列表中的语言。",
        "Keep these recovery codes somewhere safe. Each works once if you lose your phone. "
        "They are shown only now.": "请妥善保存这些恢复码。手机丢失时每个恢复码可用一次。"
                                    "恢复码只显示这一次。",
        "Set up two-factor log-in again? The old codes stop working.":
            "重新设置双因素登录？原有的验证码将失效。",
        "To move it to a new phone, set it up again: the old phone and your recovery codes "
        "stop working.": "如需换到新手机，请重新设置：旧手机和恢复码将失效。",
        "Your password": "您的密码",
        # the page frame every page shares, the log-in page's too (templates/base.html)
        "Skip to main content": "跳到主要内容",
        "Main menu": "主菜单",
        ", sorted ascending": "，升序排列", ", sorted descending": "，降序排列",
        # refusals of log-in, password change and two-factor set-up (engine.identity.service)
        "This account is deactivated. Ask your administrator.": "此账户已停用，请联系系统管理员。",
        "This account is locked after too many failed log-ins. Ask your administrator to "
        "unlock it.": "登录失败次数过多，此账户已被锁定。请联系系统管理员解锁。",
        "The current password is wrong.": "当前密码错误。",
        "This is not your current password.": "这不是您的当前密码。",
        "Choose a new password different from the current one.": "请设置与当前密码不同的新密码。",
        "The new password must differ.": "新密码须与当前密码不同。",
        "Two-factor enrolment has not been started.": "尚未开始设置双因素登录。",
        "The code does not match. Check the time on your phone and try again.":
            "验证码不匹配。请检查手机上的时间后重试。",
        "Wrong or expired code.": "验证码错误或已过期。",
        "The two-factor code is wrong or expired.": "双因素验证码错误或已过期。",
    }
)

#: What `check_password_policy` says a password needs, in its order; the field's reason names
#: those it misses ("The password needs at least 10 characters, both letters and digits.").
_NEEDS = {
    f"at least {MIN_PASSWORD_LENGTH} characters": f"至少 {MIN_PASSWORD_LENGTH} 个字符",
    "both letters and digits": "同时包含字母和数字",
    "not containing the user name": "不包含用户名",
}
add_messages({
    "The password needs " + ", ".join(needs) + ".":
        "密码须" + "、".join(_NEEDS[need] for need in needs) + "。"
    for size in range(1, len(_NEEDS) + 1) for needs in combinations(_NEEDS, size)
})
