"""Task forms: the `form` property of a user task, parsed, and what a person posts, checked.

A form is declared in the BPMN as JSON in the spiff extension property `form`::

    {"fields": [
        {"name": "conclusion", "type": "enum", "options": ["accepted", "rejected"],
         "required": true, "label": {"en": "Conclusion", "zh": "验收结论"}},
        {"name": "accepted_qty", "type": "int", "min": 0}
    ]}

A `file` field takes uploaded files (`max`: how many, default 10); its value in the task data
is a list of {attachment_id, filename, content_type, size, sha256}. Only the server makes those
values (`engine.attachments.StoredFile`, from this request's upload): posted text cannot.

Field keys: `name` (lower-case identifier), `type` (one of FIELD_TYPES), `required`, `label`
and `help` (text or {"en", "zh"}), `options` (enum; optional for list: allowed items; each a
value or {"value", "label"}), `min`/`max` (int, decimal, date, datetime: inclusive bounds;
list: number of items), `max_length` (str, text, gs1, list items) and `pattern` (a regular
expression the whole value or each list item must match), `blank` (true: the task page
never fills the field from the process data, so an independent check, such as the outbound
check's own UDI scans, is entered by its performer and not confirmed from an earlier step's).
"""

from __future__ import annotations

import json
import keyword
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, tzinfo
from decimal import Decimal, InvalidOperation
from types import MappingProxyType
from typing import Any, Final

from marshmallow import RAISE, Schema, ValidationError, fields

from engine.errors import Bilingual, InvalidInput
from engine.workflow.scripting import RESERVED_NAMES

FIELD_TYPES: Final = frozenset(
    {"str", "text", "int", "decimal", "bool", "date", "datetime", "enum", "gs1", "list", "file"}
)
LOCALES: Final = ("en", "zh")
MAX_FIELDS: Final = 100
MAX_PATTERN_LENGTH: Final = 500
#: Length limits that apply when a field sets no `max_length`.
DEFAULT_MAX_LENGTH: Final[Mapping[str, int]] = MappingProxyType(
    {"str": 500, "text": 20_000, "gs1": 200, "list": 500, "enum": 200}
)
DEFAULT_MAX_ITEMS: Final = 1_000
#: Files one `file` field takes when it sets no `max`.
DEFAULT_MAX_FILES: Final = 10

_NAME = re.compile(r"[a-z][a-z0-9_]{0,62}")
_INTEGER = re.compile(r"[+-]?[0-9]{1,40}")
_COMMON_KEYS: Final = frozenset({"name", "type", "required", "label", "help", "blank"})
_ALLOWED_KEYS: Final[Mapping[str, frozenset[str]]] = MappingProxyType({
    "str": _COMMON_KEYS | {"max_length", "pattern"},
    "text": _COMMON_KEYS | {"max_length", "pattern"},
    "gs1": _COMMON_KEYS | {"max_length", "pattern"},
    "int": _COMMON_KEYS | {"min", "max"},
    "decimal": _COMMON_KEYS | {"min", "max"},
    "date": _COMMON_KEYS | {"min", "max"},
    "datetime": _COMMON_KEYS | {"min", "max"},
    "bool": _COMMON_KEYS,
    "enum": _COMMON_KEYS | {"options"},
    "list": _COMMON_KEYS | {"options", "min", "max", "max_length", "pattern"},
    "file": _COMMON_KEYS | {"max"},
})

Text = Mapping[str, str]

#: code -> (English, Chinese); `{...}` are filled from the field's spec.
_MESSAGES: Final[Mapping[str, tuple[str, str]]] = MappingProxyType({
    "unknown": ("Unknown field.", "未知字段。"),
    "required": ("This field is required.", "此项为必填项。"),
    "confirm": ("This must be confirmed.", "此项必须确认。"),
    "min": ("Must be at least {min}.", "不能小于 {min}。"),
    "max": ("Must be at most {max}.", "不能大于 {max}。"),
    "min_items": ("Enter at least {min} values.", "至少输入 {min} 个值。"),
    "max_items": ("Enter at most {max} values.", "最多输入 {max} 个值。"),
    "max_length": ("Must be at most {max_length} characters.", "不能超过 {max_length} 个字符。"),
    "pattern": ("Does not have the expected format.", "格式不正确。"),
    "choice": ("Choose one of: {options}.", "请从以下选项中选择：{options}。"),
    "item_choice": ("Each value must be one of: {options}.", "每个值都必须是以下之一：{options}。"),
    "invalid_str": ("Enter text.", "请输入文本。"),
    "invalid_text": ("Enter text.", "请输入文本。"),
    "invalid_int": ("Enter a whole number.", "请输入整数。"),
    "invalid_decimal": ("Enter a number.", "请输入数字。"),
    "invalid_bool": ("Answer yes or no.", "请选择是或否。"),
    "invalid_date": ("Enter a date as YYYY-MM-DD.", "请按 YYYY-MM-DD 格式输入日期。"),
    "invalid_datetime": (
        "Enter a date and time with its time zone, e.g. 2024-05-01T14:30+08:00.",
        "请输入带时区的日期时间，例如 2024-05-01T14:30+08:00。",
    ),
    "invalid_enum": ("Choose one of: {options}.", "请从以下选项中选择：{options}。"),
    "invalid_gs1": (
        "This is not a GS1 barcode (GTIN, SSCC, GS1 element string or Digital Link).",
        "这不是有效的 GS1 条码（GTIN、SSCC、GS1 元素串或数字链接）。",
    ),
    "invalid_list": ("Enter a list of values.", "请输入一组值。"),
    "invalid_file": ("Attach the file with this field's file chooser.",
                     "请通过本栏的文件选择上传文件。"),
    "max_files": ("Attach at most {max} files.", "最多上传 {max} 个文件。"),
    "not_a_form": ("The form data must be a set of named fields.", "表单数据格式不正确。"),
})

_TRUE: Final = frozenset({"true", "on", "yes", "1", "y", "t", "是"})
_FALSE: Final = frozenset({"false", "off", "no", "0", "n", "f", "否"})


class FormSpecInvalid(InvalidInput):
    """The `form` JSON of a task cannot be used; the message says where and why."""

    code = "invalid_form_spec"


class FormInvalid(InvalidInput):
    """Posted data does not fit the form.

    `errors` maps each bad field to {"en": ..., "zh": ...}; `fields` (as for every
    InvalidInput) maps it to the English reason.
    """

    code = "invalid_form"

    def __init__(self, errors: Mapping[str, Text]) -> None:
        self.errors: dict[str, dict[str, str]] = {name: dict(text) for name, text in errors.items()}
        names = ", ".join(sorted(self.errors))
        super().__init__(
            f"Please correct these fields: {names}.",
            fields={name: text["en"] for name, text in self.errors.items()},
        )
        self.message_zh = f"请更正以下字段：{'、'.join(sorted(self.errors))}。"

    def messages(self, locale: str = "en") -> dict[str, str]:
        """Field name -> reason in the given locale (English when unknown)."""
        return {name: text.get(locale, text["en"]) for name, text in self.errors.items()}


@dataclass(frozen=True)
class Option:
    value: str
    label: Text


@dataclass(frozen=True)
class FieldSpec:
    name: str
    type: str
    required: bool = False
    label: Text = field(default_factory=lambda: MappingProxyType({}))
    help: Text = field(default_factory=lambda: MappingProxyType({}))
    options: tuple[Option, ...] = ()
    min: Any = None
    max: Any = None
    max_length: int | None = None
    pattern: str | None = None
    blank: bool = False

    @property
    def option_values(self) -> tuple[str, ...]:
        return tuple(option.value for option in self.options)

    @property
    def length_limit(self) -> int | None:
        return self.max_length or DEFAULT_MAX_LENGTH.get(self.type)

    def label_for(self, locale: str = "en") -> str:
        return self.label.get(locale) or self.label.get("en") or self.name

    def message(self, code: str) -> dict[str, str]:
        """The reason for `code` in English and Chinese, filled from this field's spec."""
        english, chinese = _MESSAGES[code]
        params = {"min": _display(self.min), "max": _display(self.max),
                  "max_length": self.length_limit}
        en_options = ", ".join(o.label.get("en") or o.value for o in self.options)
        zh_options = "、".join(o.label.get("zh") or o.label.get("en") or o.value
                              for o in self.options)
        return {"en": english.format(**params, options=en_options),
                "zh": chinese.format(**params, options=zh_options)}

    def to_dict(self) -> dict[str, Any]:
        """The field as plain JSON values (bounds in ISO form), e.g. for rendering."""
        body: dict[str, Any] = {"name": self.name, "type": self.type, "required": self.required}
        if self.label:
            body["label"] = dict(self.label)
        if self.help:
            body["help"] = dict(self.help)
        if self.options:
            body["options"] = [{"value": o.value, "label": dict(o.label)} for o in self.options]
        for key in ("min", "max", "max_length", "pattern"):
            value = getattr(self, key)
            if value is not None:
                body[key] = _display(value)
        return body


def _display(value: Any) -> Any:
    if isinstance(value, date | datetime):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


# --- parsing the spec -------------------------------------------------------------------------


def parse_form(json_text: str | bytes | FormSpec | None) -> FormSpec:
    """Parse a task's `form` JSON; raises FormSpecInvalid naming the field and the problem.

    A FormSpec (as UserTaskMeta.form already holds) is returned as it is.
    """
    if isinstance(json_text, FormSpec):
        return json_text
    if isinstance(json_text, bytes):
        try:
            json_text = json_text.decode("utf-8")
        except UnicodeDecodeError:
            raise FormSpecInvalid("The form is not UTF-8 text.",
                                  zh="表单不是 UTF-8 文本。") from None
    if json_text is None or not json_text.strip():
        raise FormSpecInvalid('The form is empty; it needs JSON like {"fields": [...]}.',
                              zh='表单为空：需要形如 {"fields": [...]} 的 JSON。')
    try:
        document = json.loads(json_text)
    except (ValueError, RecursionError) as err:
        raise FormSpecInvalid(f"The form is not valid JSON: {err}.",
                              zh=f"表单不是有效的 JSON：{err}。") from None
    if not isinstance(document, dict) or set(document) != {"fields"}:
        raise FormSpecInvalid('The form must be a JSON object with one key, "fields".',
                              zh='表单必须是只有一个键 "fields" 的 JSON 对象。')
    raw_fields = document["fields"]
    if not isinstance(raw_fields, list):
        raise FormSpecInvalid('"fields" must be a list of field objects.',
                              zh='"fields" 必须是字段对象的列表。')
    if len(raw_fields) > MAX_FIELDS:
        raise FormSpecInvalid(f"A form may have at most {MAX_FIELDS} fields.",
                              zh=f"一个表单最多 {MAX_FIELDS} 个字段。")
    specs: list[FieldSpec] = []
    seen: set[str] = set()
    for position, raw in enumerate(raw_fields, start=1):
        spec = _parse_field(position, raw)
        if spec.name in seen:
            raise FormSpecInvalid(f"Field {position}: the name '{spec.name}' is used twice.",
                                  zh=f"第 {position} 个字段：名称 '{spec.name}' 用了两次。")
        seen.add(spec.name)
        specs.append(spec)
    return FormSpec(tuple(specs))


def _invalid(where: Bilingual, en: str, zh: str) -> FormSpecInvalid:
    """A problem of one field, `where` ("Field 2 ('lot')") leading it in either language."""
    return FormSpecInvalid(f"{where}: {en}", zh=f"{where.zh}：{zh}")


def _parse_field(position: int, raw: Any) -> FieldSpec:
    where = Bilingual(f"Field {position}", f"第 {position} 个字段")
    if not isinstance(raw, dict):
        raise FormSpecInvalid(f"{where} must be a JSON object.", zh=f"{where.zh}必须是 JSON 对象。")
    name = raw.get("name")
    if not isinstance(name, str) or not _NAME.fullmatch(name) or keyword.iskeyword(name):
        raise _invalid(
            where, f"the name must be a lower-case identifier (letters, digits, _), got {name!r}.",
            f"名称必须是小写标识符（字母、数字和 _），实为 {name!r}。"
        )
    where = Bilingual(f"Field {position} ('{name}')", f"第 {position} 个字段（'{name}'）")
    if name in RESERVED_NAMES:
        raise _invalid(where, f"'{name}' is a name scripts already use; choose another.",
                       f"'{name}' 是脚本已在使用的名称，请另选一个。")
    kind = raw.get("type")
    if not isinstance(kind, str) or kind not in FIELD_TYPES:
        types = ", ".join(sorted(FIELD_TYPES))
        raise _invalid(where, f"the type must be one of {types}, got {kind!r}.",
                       f"type 必须是以下之一：{types}，实为 {kind!r}。")
    unknown = set(raw) - _ALLOWED_KEYS[kind]
    if unknown:
        keys = ", ".join(sorted(unknown))
        raise _invalid(where, f"{keys} not allowed for {kind}.", f"{kind} 字段不允许 {keys}。")
    required, blank = raw.get("required", False), raw.get("blank", False)
    if not isinstance(required, bool):
        raise _invalid(where, "required must be true or false.", "required 必须是 true 或 false。")
    if not isinstance(blank, bool):
        raise _invalid(where, "blank must be true or false.", "blank 必须是 true 或 false。")
    options = _parse_options(where, raw.get("options"), kind)
    bounds = [_parse_bound(where, key, raw.get(key), kind) for key in ("min", "max")]
    if bounds[0] is not None and bounds[1] is not None and bounds[0] > bounds[1]:
        raise _invalid(where, "min is greater than max.", "min 大于 max。")
    max_length = raw.get("max_length")
    if max_length is not None and (
        not isinstance(max_length, int) or isinstance(max_length, bool) or max_length < 1
    ):
        raise _invalid(where, "max_length must be a positive whole number.",
                       "max_length 必须是正整数。")
    return FieldSpec(
        name=name, type=kind, required=required,
        label=_parse_text(where, "label", raw.get("label")),
        help=_parse_text(where, "help", raw.get("help")),
        options=options, min=bounds[0], max=bounds[1], max_length=max_length,
        pattern=_parse_pattern(where, raw.get("pattern")), blank=blank,
    )


def _parse_text(where: Bilingual, key: str, value: Any) -> Text:
    if value is None:
        return MappingProxyType({})
    if isinstance(value, str):
        return MappingProxyType({"en": value})
    if (
        isinstance(value, dict) and value and set(value) <= set(LOCALES)
        and all(isinstance(text, str) for text in value.values())
    ):
        return MappingProxyType(dict(value))
    key_zh = "选项的 label" if key == "an option label" else key
    raise _invalid(where, f'{key} must be text or {{"en": ..., "zh": ...}}.',
                   f'{key_zh} 必须是文本或 {{"en": ..., "zh": ...}}。')


def _parse_options(where: Bilingual, raw: Any, kind: str) -> tuple[Option, ...]:
    if raw is None:
        if kind == "enum":
            raise _invalid(where, "an enum needs a list of options.",
                           "enum 字段需要 options 列表。")
        return ()
    if not isinstance(raw, list) or not raw:
        raise _invalid(where, "options must be a non-empty list.", "options 必须是非空列表。")
    options: list[Option] = []
    label: Text
    for item in raw:
        if isinstance(item, str):
            value, label = item, MappingProxyType({"en": item})
        elif isinstance(item, dict) and set(item) <= {"value", "label"} and "value" in item:
            value = item["value"]
            label = _parse_text(where, "an option label", item.get("label", value))
        else:
            raise _invalid(where, 'each option is text or {"value", "label"}.',
                           '每个选项须是文本或 {"value", "label"}。')
        if not isinstance(value, str) or not value.strip() or value != value.strip():
            raise _invalid(where, "option values must be non-empty trimmed text.",
                           "选项的值必须是非空文本，且首尾无空格。")
        options.append(Option(value, label))
    values = [option.value for option in options]
    if len(set(values)) != len(values):
        raise _invalid(where, "options repeat a value.", "options 中有重复的值。")
    return tuple(options)


def _parse_bound(where: Bilingual, key: str, raw: Any, kind: str) -> Any:
    if raw is None:
        return None
    try:
        if kind in ("list", "file"):
            if not isinstance(raw, int) or isinstance(raw, bool) or raw < 0:
                raise ValueError
            return raw
        value = _COERCE[kind](raw, None)
    except (ValueError, _Bad):
        raise _invalid(where, f"{key} {raw!r} is not a valid {kind} bound.",
                       f"{key} {raw!r} 不是有效的 {kind} 边界值。") from None
    return value


def _parse_pattern(where: Bilingual, raw: Any) -> str | None:
    if raw is None:
        return None
    if not isinstance(raw, str) or not raw or len(raw) > MAX_PATTERN_LENGTH:
        raise _invalid(
            where, f"pattern must be a regular expression of 1 to {MAX_PATTERN_LENGTH} "
                   "characters.",
            f"pattern 必须是 1 到 {MAX_PATTERN_LENGTH} 个字符的正则表达式。"
        )
    try:
        re.compile(raw)
    except (re.error, RecursionError, OverflowError) as err:
        raise _invalid(where, f"pattern does not compile: {err}.",
                       f"pattern 无法编译：{err}。") from None
    return raw


# --- coercing one value -----------------------------------------------------------------------


class _Bad(Exception):
    """A value does not fit; `code` is a key of _MESSAGES."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


def _to_str(value: Any, _tz: tzinfo | None) -> str:
    if not isinstance(value, str):
        raise _Bad("invalid_str")
    return value


def _to_int(value: Any, _tz: tzinfo | None) -> int:
    if isinstance(value, bool):
        raise _Bad("invalid_int")
    if isinstance(value, int):
        return value
    if isinstance(value, float | Decimal):
        try:
            if value == int(value):
                return int(value)
        except (ValueError, OverflowError, InvalidOperation):
            pass
        raise _Bad("invalid_int")
    if isinstance(value, str) and _INTEGER.fullmatch(value):
        return int(value)
    raise _Bad("invalid_int")


def _to_decimal(value: Any, _tz: tzinfo | None) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, int | float | str | Decimal):
        raise _Bad("invalid_decimal")
    if isinstance(value, str) and len(value) > 60:
        raise _Bad("invalid_decimal")
    try:
        number = Decimal(str(value)) if not isinstance(value, Decimal) else value
    except (InvalidOperation, ValueError):
        raise _Bad("invalid_decimal") from None
    if not number.is_finite() or abs(number.adjusted()) > 40:
        raise _Bad("invalid_decimal")
    return number


def _to_bool(value: Any, _tz: tzinfo | None) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        if value.lower() in _TRUE:
            return True
        if value.lower() in _FALSE:
            return False
    raise _Bad("invalid_bool")


def _to_date(value: Any, _tz: tzinfo | None) -> date:
    if isinstance(value, datetime):
        raise _Bad("invalid_date")
    if isinstance(value, date):
        return value
    if isinstance(value, str) and len(value) == 10:
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
    raise _Bad("invalid_date")


def _to_datetime(value: Any, tz: tzinfo | None) -> datetime:
    if isinstance(value, str) and 10 <= len(value) <= 40:
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            raise _Bad("invalid_datetime") from None
    if not isinstance(value, datetime):
        raise _Bad("invalid_datetime")
    if value.tzinfo is None or value.utcoffset() is None:
        if tz is None:
            raise _Bad("invalid_datetime")
        value = value.replace(tzinfo=tz)
    return value.astimezone(UTC)


def _to_gs1(value: Any, _tz: tzinfo | None) -> str:
    if not isinstance(value, str) or any(
        (ord(char) < 32 and char != "\x1d") or ord(char) > 126 for char in value
    ):
        raise _Bad("invalid_gs1")
    if not _is_gs1(value):
        raise _Bad("invalid_gs1")
    return value


def _is_gs1(value: str) -> bool:
    """Whether biip reads the scan (or its human-readable form) as GS1 without errors."""
    import biip  # imported here: it loads its code tables, which the rest never needs
    from biip.gs1_messages import GS1Message

    try:
        if value.startswith("("):
            value = GS1Message.parse_hri(value).value
        result = biip.parse(value)
    except (biip.BiipException, ValueError):
        return False
    if result.gtin is not None or result.sscc is not None:
        return True
    if result.gs1_digital_link_uri is not None:
        return True
    message = result.gs1_message
    if message is None:
        return False
    return all(
        getattr(element, "gtin_error", None) is None
        and getattr(element, "sscc_error", None) is None
        and getattr(element, "gln_error", None) is None
        for element in message.element_strings
    )


_COERCE: Final[Mapping[str, Callable[[Any, tzinfo | None], Any]]] = MappingProxyType({
    "str": _to_str, "text": _to_str, "enum": _to_str, "gs1": _to_gs1, "int": _to_int,
    "decimal": _to_decimal, "bool": _to_bool, "date": _to_date, "datetime": _to_datetime,
})


def _check_text(spec: FieldSpec, value: str) -> None:
    limit = spec.length_limit
    if limit is not None and len(value) > limit:
        raise _Bad("max_length")
    if spec.pattern is not None and not re.fullmatch(spec.pattern, value):
        raise _Bad("pattern")


def _coerce(spec: FieldSpec, value: Any, tz: tzinfo | None) -> Any:
    if spec.type == "list":
        return _coerce_list(spec, value)
    if spec.type == "file":
        return _coerce_files(spec, value)
    result = _COERCE[spec.type](value, tz)
    if spec.type in ("str", "text", "gs1"):
        _check_text(spec, result)
    elif spec.type == "enum" and result not in spec.option_values:
        raise _Bad("choice")
    elif spec.type == "bool" and spec.required and result is not True:
        raise _Bad("confirm")
    if spec.min is not None and result < spec.min:
        raise _Bad("min")
    if spec.max is not None and result > spec.max:
        raise _Bad("max")
    return result


def _coerce_list(spec: FieldSpec, value: Any) -> list[str]:
    if isinstance(value, str):
        value = re.split(r"[\r\n,]+", value)
    if not isinstance(value, list | tuple) or not all(isinstance(item, str) for item in value):
        raise _Bad("invalid_list")
    items = [item.strip() for item in value if item.strip()]
    if spec.required and not items:
        raise _Bad("required")
    for item in items:
        _check_text(spec, item)
        if spec.options and item not in spec.option_values:
            raise _Bad("item_choice")
    if spec.min is not None and len(items) < spec.min:
        raise _Bad("min_items")
    if len(items) > (spec.max if spec.max is not None else DEFAULT_MAX_ITEMS):
        raise _Bad("max_items")
    return items


def _coerce_files(spec: FieldSpec, value: Any) -> list[dict[str, Any]]:
    from engine.attachments import StoredFile

    files = [value] if isinstance(value, StoredFile) else value
    if not isinstance(files, list | tuple) or not all(isinstance(f, StoredFile) for f in files):
        raise _Bad("invalid_file")
    if spec.required and not files:
        raise _Bad("required")
    if len(files) > (spec.max if spec.max is not None else DEFAULT_MAX_FILES):
        raise _Bad("max_files")
    return [f.to_data() for f in files]


# --- the form ---------------------------------------------------------------------------------


class _FormField(fields.Field):  # type: ignore[type-arg]
    """A marshmallow field that coerces by the FieldSpec and fails with a message code."""

    def __init__(self, spec: FieldSpec, tz: tzinfo | None) -> None:
        missing = "confirm" if spec.type == "bool" else "required"
        options: dict[str, Any] = {"required": True} if spec.required else {
            "load_default": False if spec.type == "bool"
            else list if spec.type in ("list", "file") else None
        }
        super().__init__(error_messages={"required": missing, "null": missing}, **options)
        self.spec = spec
        self.tz = tz

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        try:
            return _coerce(self.spec, value, self.tz)
        except _Bad as bad:
            raise ValidationError(bad.code) from None
        except (RecursionError, OverflowError, ValueError, TypeError, re.error):
            raise ValidationError(f"invalid_{self.spec.type}") from None


@dataclass(frozen=True)
class FormSpec:
    """The fields of one task's form, in order."""

    fields: tuple[FieldSpec, ...] = ()
    #: Built marshmallow schemas by time zone (see `schema`).
    _schemas: dict[tzinfo | None, Schema] = field(default_factory=dict, init=False,
                                                  compare=False, hash=False, repr=False)

    def field(self, name: str) -> FieldSpec:
        for spec in self.fields:
            if spec.name == name:
                return spec
        raise KeyError(name)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(spec.name for spec in self.fields)

    def to_dict(self) -> dict[str, Any]:
        return {"fields": [spec.to_dict() for spec in self.fields]}

    def validate(self, data: Mapping[str, Any], *, tz: tzinfo | None = None) -> dict[str, Any]:
        """Check and coerce posted values (strings, or JSON values from the API).

        Returns every field of the form: missing optional fields are None (bool: False, list:
        []), so conditions can name them. Text is trimmed and blank counts as missing. A naive
        date-time takes `tz` (the person's zone) or is refused; date-times come back in UTC.
        Raises FormInvalid with per-field reasons in English and Chinese.
        """
        if not isinstance(data, Mapping):
            raise FormInvalid({"(form)": _plain_message("not_a_form")})
        cleaned: dict[str, Any] = {}
        errors: dict[str, dict[str, str]] = {}
        for key, value in data.items():
            if not isinstance(key, str):
                errors[str(key)] = _plain_message("unknown")
                continue
            if isinstance(value, str):
                value = value.strip()
            if value is None or value == "":
                continue
            cleaned[key] = value
        try:
            result: dict[str, Any] = self.schema(tz).load(cleaned)
        except ValidationError as err:
            errors.update(self._messages(err.normalized_messages()))
            raise FormInvalid(errors) from None
        if errors:
            raise FormInvalid(errors)
        return result

    def schema(self, tz: tzinfo | None) -> Schema:
        """The marshmallow schema of this form for a time zone, built once (loading does not
        change a schema, so one instance serves every request)."""
        found = self._schemas.get(tz)
        if found is None:
            schema_fields: dict[str, fields.Field[Any]] = {
                spec.name: _FormField(spec, tz) for spec in self.fields
            }
            found = Schema.from_dict(schema_fields, name="TaskForm")(unknown=RAISE)
            found.error_messages = {**found.error_messages, "unknown": "unknown"}
            self._schemas[tz] = found
        return found

    def _messages(self, raw: Mapping[str, Any]) -> dict[str, dict[str, str]]:
        messages: dict[str, dict[str, str]] = {}
        by_name = {spec.name: spec for spec in self.fields}
        for name, codes in raw.items():
            code = codes[0] if isinstance(codes, list) and codes else "unknown"
            spec = by_name.get(name)
            if spec is None:
                messages[name] = _plain_message("unknown")
            else:
                messages[name] = spec.message(code if code in _MESSAGES else f"invalid_{spec.type}")
        return messages


def _plain_message(code: str) -> dict[str, str]:
    english, chinese = _MESSAGES[code]
    return {"en": english, "zh": chinese}
