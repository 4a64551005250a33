"""The shared value types of request bodies, forms and parameters: text without control
characters and instants PostgreSQL and Python can both hold.

Bad input is refused here, at the edge, with a 422 naming the field, instead of reaching the
database (a NUL in a string, a year-1 instant at +14:00) and answering 500.
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from typing import Annotated, Any, ClassVar

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BeforeValidator,
    GetJsonSchemaHandler,
    StringConstraints,
    ValidationInfo,
    field_validator,
)
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema

from app.core.bodies import RequestBody

# C0 controls (and DEL) except tab and line feed, C1 controls, and lone surrogates: no text
# field has a use for them, PostgreSQL refuses NUL outright, and the rest corrupt what a
# phone, a spreadsheet or the monitoring feed shows.
_LINE_CONTROLS = re.compile(r"[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
_TEXT_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff]")


def has_line_controls(value: str) -> bool:
    """Whether one line of text holds a character `Text` refuses (a feed row is held to the
    same rule as a request body)."""
    return _LINE_CONTROLS.search(value) is not None


def _refusing(pattern: re.Pattern[str], message: str) -> Any:
    def check(value: str) -> str:
        if pattern.search(value):
            raise ValueError(message)
        return value

    return AfterValidator(check)


class _JsonSchemaPattern:
    def __init__(self, pattern: str) -> None:
        self.pattern = pattern

    def __get_pydantic_json_schema__(
        self, core_schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        schema = handler(core_schema)
        schema.setdefault("pattern", self.pattern)
        return schema


def _documented(pattern: re.Pattern[str]) -> Any:
    # The document says it too, so a generated client (and schemathesis) knows what is refused;
    # the check itself stays the validator above, with its own message. Lone surrogates are no
    # characters: a JSON Schema pattern (ECMA-262 with the `u` flag) cannot name them, and one
    # that tries does not compile in most validators, so the document leaves them out.
    characters = pattern.pattern.removeprefix("[").removesuffix("]")
    characters = characters.replace(r"\ud800-\udfff", "")
    return _JsonSchemaPattern(f"^[^{characters}]*$")


Text = Annotated[
    str,
    _refusing(_LINE_CONTROLS, "不能包含控制字符（含换行、制表符）或无效字符"),
    _documented(_LINE_CONTROLS),
]
"""One line of text: a name, a title, a reason, a form field."""

MultilineText = Annotated[
    str, _refusing(_TEXT_CONTROLS, "不能包含控制字符或无效字符"), _documented(_TEXT_CONTROLS)
]
"""Text that may run over lines (a job's requirements, a visit's notes): tab and line feed
allowed, every other control character refused."""

Label = Annotated[Text, StringConstraints(min_length=1, max_length=32)]
"""An item of a list of short labels (a skill, a training need, a wanted job type): the
column holds 32 characters, so a longer one answers 422 instead of being cut."""

EARLIEST_YEAR = 1900
LATEST_YEAR = 2200
# The widest offsets in use anywhere (Kiribati +14:00, Baker Island -12:00), well within what
# PostgreSQL accepts.
MAX_OFFSET = timedelta(hours=14)


_NUMBER = re.compile(r"^\s*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*$")


def _not_a_number(value: Any) -> Any:
    # pydantic reads a number (or a numeric string, as in a query) as seconds since 1970: a UTC
    # instant with no offset written (or its day). Instants and days are read from text only.
    if isinstance(value, int | float) or (isinstance(value, str) and _NUMBER.match(value)):
        raise ValueError("应为带 UTC 偏移的 ISO 8601 时间，不能是数字")
    return value


def _bounded(value: datetime) -> datetime:
    offset = value.utcoffset()
    if offset is not None and abs(offset) > MAX_OFFSET:
        raise ValueError("UTC 偏移应在 -14:00 到 +14:00 之间")
    # Checked on the local date first: converting year 1 at +14:00 to UTC overflows.
    if not EARLIEST_YEAR <= value.year <= LATEST_YEAR:
        raise ValueError(f"年份应在 {EARLIEST_YEAR} 到 {LATEST_YEAR} 之间")
    return value


# The document states the years and offsets accepted, so a schema-valid time is accepted.
_YEARS = r"(19\d\d|2[01]\d\d|2200)"
INSTANT_PATTERN = rf"^{_YEARS}-.*([Zz]|[+-](0\d|1[0-3]):?[0-5]\d|[+-]14:?00)$"
DAY_PATTERN = rf"^{_YEARS}-"

Instant = Annotated[
    AwareDatetime,
    BeforeValidator(_not_a_number),
    AfterValidator(_bounded),
    _JsonSchemaPattern(INSTANT_PATTERN),
]
"""A moment with its UTC offset: text only, offset within ±14:00, years 1900 to 2200."""


def _bounded_day(value: date) -> date:
    if not EARLIEST_YEAR <= value.year <= LATEST_YEAR:
        raise ValueError(f"年份应在 {EARLIEST_YEAR} 到 {LATEST_YEAR} 之间")
    return value


Day = Annotated[
    date,
    BeforeValidator(_not_a_number),
    AfterValidator(_bounded_day),
    _JsonSchemaPattern(DAY_PATTERN),
]
"""A calendar day, `YYYY-MM-DD`: text only (0 is not 1970-01-01), years 1900 to 2200."""


def instant_in_range(value: datetime) -> bool:
    """Whether an instant read from elsewhere (a cursor, a feed) is one `Instant` accepts."""
    try:
        _bounded(value)
    except ValueError:
        return False
    return value.utcoffset() is not None


class Patch(RequestBody):
    """A partial update: a field left out stays as it is. `null` is accepted only for the
    fields in `nullable` (a column that may be empty); for any other it answers 422 naming the
    field, instead of writing NULL into a required column."""

    nullable: ClassVar[frozenset[str]] = frozenset()

    @field_validator("*")
    @classmethod
    def _not_null(cls, value: Any, info: ValidationInfo) -> Any:
        if value is None and info.field_name not in cls.nullable:
            raise ValueError("不能为空（null）：不修改请省略此字段")
        return value

    @classmethod
    def __get_pydantic_json_schema__(
        cls, core_schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        schema = handler.resolve_ref_schema(handler(core_schema))
        for name, field in schema.get("properties", {}).items():
            variants = field.get("anyOf")
            if name in cls.nullable or not variants:
                continue
            kept = [variant for variant in variants if variant.get("type") != "null"]
            field.pop("anyOf")
            field.pop("default", None)
            if len(kept) == 1:
                field.update(kept[0])
            else:
                field["anyOf"] = kept
        return schema
