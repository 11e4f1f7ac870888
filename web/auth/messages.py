"""Chinese for the auth pages (keys are the English text used in the code and templates)."""

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
    }
)
