"""Chinese messages for the errors pydantic finds in a request (the `errors[].message` of a 422).

People read these on a phone, so each of pydantic's error types maps to a Chinese template here,
filled from the error's context (`max_length`, `expected`…). A type not listed falls back to a
general Chinese sentence that keeps pydantic's own text in brackets, so nothing is lost.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

_DATETIME = "应为带 UTC 偏移的 ISO 8601 时间，例如 2026-11-01T08:00:00+08:00"
_NUMBER = "应为数字"
_INTEGER = "应为整数"
_OBJECT = "应为对象"

TEMPLATES: dict[str, str] = {
    "missing": "缺少必填字段",
    "extra_forbidden": "不支持此字段",
    "string_type": "应为字符串",
    "string_too_short": "长度不能少于 {min_length} 个字符",
    "string_too_long": "长度不能超过 {max_length} 个字符",
    "string_pattern_mismatch": "格式不正确（应匹配 {pattern}）",
    "string_unicode": "应为有效的 Unicode 字符串",
    "too_short": "至少应有 {min_length} 项",
    "too_long": "最多只能有 {max_length} 项",
    "int_type": _INTEGER,
    "int_parsing": _INTEGER,
    "int_parsing_size": "整数超出范围",
    "int_from_float": "应为整数，不能带小数",
    "float_type": _NUMBER,
    "float_parsing": _NUMBER,
    "finite_number": "应为有限的数字",
    "decimal_type": _NUMBER,
    "decimal_parsing": _NUMBER,
    "decimal_max_digits": "最多 {max_digits} 位数字",
    "decimal_max_places": "最多 {decimal_places} 位小数",
    "decimal_whole_digits": "整数部分最多 {whole_digits} 位",
    "bool_type": "应为布尔值（true 或 false）",
    "bool_parsing": "应为布尔值（true 或 false）",
    "greater_than": "应大于 {gt}",
    "greater_than_equal": "不能小于 {ge}",
    "less_than": "应小于 {lt}",
    "less_than_equal": "不能大于 {le}",
    "multiple_of": "应为 {multiple_of} 的整数倍",
    "enum": "应为以下值之一：{expected}",
    "literal_error": "应为以下值之一：{expected}",
    "uuid_type": "应为 UUID",
    "uuid_parsing": "应为 UUID，例如 0190b3c2-7c1e-7a4b-9f3e-2d1c4b5a6e7f",
    "uuid_version": "UUID 版本不符合要求",
    "datetime_type": _DATETIME,
    "datetime_parsing": _DATETIME,
    "datetime_from_date_parsing": _DATETIME,
    "datetime_object_invalid": _DATETIME,
    "timezone_aware": "时间须带 UTC 偏移，例如 2026-11-01T08:00:00+08:00",
    "timezone_naive": "时间不应带 UTC 偏移",
    "date_type": "应为日期，格式 YYYY-MM-DD",
    "date_parsing": "应为日期，格式 YYYY-MM-DD",
    "date_from_datetime_parsing": "应为日期，格式 YYYY-MM-DD",
    "date_from_datetime_inexact": "应为日期，不能带时刻",
    "time_type": "应为时刻，格式 HH:MM:SS",
    "time_parsing": "应为时刻，格式 HH:MM:SS",
    "list_type": "应为数组",
    "tuple_type": "应为数组",
    "set_type": "应为数组",
    "dict_type": _OBJECT,
    "model_type": _OBJECT,
    "model_attributes_type": _OBJECT,
    "json_invalid": "JSON 格式有误",
    "json_type": "应为 JSON 字符串",
    "url_type": "应为网址",
    "url_parsing": "应为网址",
    "none_required": "应为空（null）",
}

# Messages our own validators raise (`ValueError("…")`) are already written for people.
_OWN_MESSAGE = frozenset({"value_error", "assertion_error"})


def _expected(text: str) -> str:
    # pydantic joins the last choice with an English "or": "'a', 'b' or 'c'".
    return re.sub(r"' or '", "', '", text)


def message(error: Mapping[str, Any]) -> str:
    """The Chinese message for one of pydantic's `errors()` entries."""
    kind = str(error.get("type", ""))
    context = dict(error.get("ctx") or {})
    original = str(error.get("msg", ""))
    if kind in _OWN_MESSAGE and context.get("error") is not None:
        return str(context["error"])
    if "expected" in context:
        context["expected"] = _expected(str(context["expected"]))
    template = TEMPLATES.get(kind)
    if template is not None:
        try:
            return template.format(**context)
        except (KeyError, IndexError, ValueError):
            pass
    return f"取值不符合要求（{original}）" if original else "取值不符合要求"
