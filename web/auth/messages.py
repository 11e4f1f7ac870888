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
    }
)
