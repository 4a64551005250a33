"""Feed rows into records: the one place a row of the monitoring system, from the HTTP feed
(`FEED.md` §1) or a spreadsheet export (§2), becomes a `FeedRecord` or the reasons it was
refused.

Both sources go through one validation (`_Row`); they differ only in how a value arrives. The
HTTP feed sends JSON types and is held to them. A spreadsheet cell may come as a number, a date
or text, says 是/否 for a flag, puts several risk types in one cell, and an empty flag cell
means 否. What is unambiguous is repaired (spaces around any text, an apostrophe Excel keeps as
its text marker, full-width digits and letters, a lower-case x); the rest is refused, every
problem of a row reported, each in words a county clerk understands. Nothing is ever cut to fit
a column: too long is refused.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any

from app.core import periods
from app.core.crypto import mask_id_number, mask_phone
from app.core.types import has_line_controls, instant_in_range
from app.feed.records import FeedEmployment, FeedRecord, RowError
from app.households.errors import InvalidIdNumber
from app.households.id_number import id_number_problem, repair_id_number
from app.policy.values import (
    Channel,
    EmploymentStatus,
    HouseholdCategory,
    LabourType,
    MonitorType,
    Relation,
    RiskType,
    WorkRegion,
)

# The export's column headers (FEED.md §2) and the feed field each one carries. The employment
# fields are the HTTP record's `employment` object, named here by their path in it.
SHEET_COLUMNS: Mapping[str, str] = {
    "户编号": "household_no",
    "行政区划代码": "village_code",
    "户类型": "household_category",
    "监测对象类别": "monitor_type",
    "风险类型": "risk_types",
    "是否风险消除": "risk_eliminated",
    "是否易地搬迁": "relocated",
    "人均纯收入": "income_per_capita",
    "成员编号": "member_no",
    "姓名": "name",
    "证件号码": "id_number",
    "与户主关系": "relation",
    "联系电话": "phone",
    "劳动技能": "labour_type",
    "务工状态": "employment.status",
    "务工地域": "employment.region",
    "就业渠道": "employment.channel",
    "务工单位": "employment.employer",
    "务工时间(月)": "employment.months",
    "务工收入(元)": "employment.income",
    "统计月份": "employment.period",
}
# Every column is required in a file: a household column left out of an export would
# otherwise read as "empty" and overwrite what the registry holds.
HEADERS: Mapping[str, str] = {field: header for header, field in SHEET_COLUMNS.items()}

# The columns' widths (app/households/models.py): a longer value is refused, never cut.
NO_MAX = 32  # household_no, member_no
NAME_MAX = 64
EMPLOYER_MAX = 128
# Numeric(12, 2): ten digits before the point.
MONEY_LIMIT = Decimal(10) ** 10
# A spreadsheet number holds 15 significant digits; a longer code stored as one has lost some.
NUMBER_DIGITS = 15
# RowError.value is shown to the clerk and stored in feed_row_error.value (128 characters).
SHOWN_MAX = 128

_EMPLOYMENT_FIELDS = tuple(field for field in HEADERS if field.startswith("employment."))
_HALF_WIDTH = {code: code - 0xFEE0 for code in range(0xFF01, 0xFF5F)} | {0x3000: 0x20}
_FORMULA_TEXT = re.compile(r'^="(.*)"$')
_VILLAGE_CODE = re.compile(r"^\d{12}$")
_RISK_SEPARATORS = re.compile(r"[、,，]")
_THOUSANDS = re.compile(r"^\d{1,3}(,\d{3})+(\.\d*)?$")
_PHONE_SEPARATORS = re.compile(r"[\s-]")
_CONTROLS = re.compile(r"[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
_HEADER_NOISE = re.compile(r"\s+")
_YES, _NO = "是", "否"


def sheet_field(header: object) -> str | None:
    """The feed field a spreadsheet header names, or None for a column we do not read.
    Tolerates what exports vary in: spaces, full-width parentheses (`务工时间（月）`)."""
    if not isinstance(header, str):
        return None
    key = _HEADER_NOISE.sub("", header.translate(_HALF_WIDTH))
    return SHEET_COLUMNS.get(key)


def map_feed_record(raw: Mapping[str, Any], line: int) -> FeedRecord | list[RowError]:
    """An HTTP feed record (FEED.md §1, JSON types) as a `FeedRecord`, or why not. `line` is
    the record's place in its page, from 1. Unknown fields are ignored."""
    if not isinstance(raw, Mapping):
        return [RowError(line, None, None, "这条记录不是一个 JSON 对象")]
    cells = {key: value for key, value in raw.items() if key != "employment"}
    employment = raw.get("employment")
    row = _Row(cells, line, sheet=False)
    if isinstance(employment, Mapping):
        cells.update({f"employment.{key}": value for key, value in employment.items()})
    elif employment is not None:
        row.refuse("employment", employment, "务工信息应为一个对象或 null")
    return row.record(employment_stated=isinstance(employment, Mapping))


def map_sheet_row(cells: Mapping[str, object], line: int) -> FeedRecord | list[RowError]:
    """One spreadsheet row, its cells keyed by feed field (`SHEET_COLUMNS`), as the reader
    gives them (str, int, float, datetime, None), as a `FeedRecord`, or why not. `line` is the
    sheet's row number as the clerk sees it."""
    row = _Row(dict(cells), line, sheet=True)
    stated = any(not _blank(cells.get(field)) for field in _EMPLOYMENT_FIELDS)
    return row.record(employment_stated=stated)


def _blank(value: object) -> bool:
    return value is None or (isinstance(value, str) and not value.translate(_HALF_WIDTH).strip())


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _as_shown(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.15g}"
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value)


def _shown(field: str, value: object) -> str | None:
    """The value as a clerk may see it again: personal data masked, controls made visible,
    at most `SHOWN_MAX` characters (this is a display copy, not data)."""
    if value is None:
        return None
    text = _as_shown(value)
    if field in ("id_number", "phone") and len(text.strip()) < 11:
        text = "*" * len(text)  # too short for a mask to hide anything
    elif field == "id_number":
        text = mask_id_number(text) or text
    elif field == "phone":
        text = mask_phone(text) or text
    text = _CONTROLS.sub(lambda match: f"\\x{ord(match.group()):02x}", text)
    return text if len(text) <= SHOWN_MAX else text[: SHOWN_MAX - 1] + "…"


def _choices(values: Iterable[str]) -> str:
    return "、".join(values)


class _Row:
    """One row under validation: each check returns the value (or a placeholder of its type
    when refused) and records what is wrong; `record` builds the result."""

    def __init__(self, cells: dict[str, Any], line: int, *, sheet: bool) -> None:
        self.cells = cells
        self.line = line
        self.sheet = sheet
        self.errors: list[RowError] = []

    def label(self, field: str) -> str:
        return HEADERS.get(field, field)

    def refuse(self, field: str, value: object, reason: str) -> None:
        column = self.label(field) if self.sheet else field
        self.errors.append(RowError(self.line, column, _shown(field, value), reason))

    def absent(self, field: str) -> bool:
        return _blank(self.cells.get(field))

    def missing(self, field: str) -> None:
        self.refuse(field, None, f"{self.label(field)}不能为空")

    # Text

    def text(self, field: str, limit: int, *, code: bool = False) -> str | None:
        """Trimmed text, or None when empty. `code`: an identifier, where an apostrophe, a
        ="…" wrapper and full-width characters are a spreadsheet's and are taken off, and a
        number cell is read back as its digits."""
        raw = self.cells.get(field)
        if _blank(raw):
            return None
        if isinstance(raw, str):
            text = raw.strip()
            if code:
                text = text.translate(_HALF_WIDTH).strip()
                if formula := _FORMULA_TEXT.match(text):
                    text = formula.group(1)
                text = text.strip("'‘’").strip()
        elif self.sheet and _is_number(raw) and float(raw).is_integer():
            digits = str(int(raw))
            if code and len(digits) > NUMBER_DIGITS:
                self.refuse(
                    field,
                    raw,
                    f"{self.label(field)}被表格软件存成了数字，末几位可能已丢失："
                    "请把该列设为文本后重新导出",
                )
                return None
            text = digits
        else:
            self.refuse(field, raw, f"{self.label(field)}应为文本")
            return None
        if has_line_controls(text):
            self.refuse(field, raw, f"{self.label(field)}含有控制字符（如换行、制表符）或无效字符")
            return None
        if len(text) > limit:
            self.refuse(field, raw, f"{self.label(field)}最多{limit}个字符，这里有{len(text)}个")
            return None
        return text

    def required_text(self, field: str, limit: int, *, code: bool = False) -> str:
        if self.absent(field):
            self.missing(field)
            return ""
        return self.text(field, limit, code=code) or ""

    def choice(self, field: str, values: type[StrEnum], *, required: bool) -> str | None:
        raw = self.cells.get(field)
        if _blank(raw):
            if required:
                self.missing(field)
            return None
        if isinstance(raw, str) and raw.strip() in values._value2member_map_:
            return raw.strip()
        self.refuse(
            field, raw, f"{self.label(field)}应为以下之一：{_choices(v.value for v in values)}"
        )
        return None

    # Flags, lists, numbers, months, instants

    def flag(self, field: str) -> bool:
        raw = self.cells.get(field)
        if isinstance(raw, bool):
            return raw
        if self.sheet:
            if _blank(raw):
                return False  # an export leaves the flag empty where it does not apply
            text = raw.strip() if isinstance(raw, str) else raw
            if text in (_YES, _NO):
                return text == _YES
            self.refuse(field, raw, f"{self.label(field)}应填“是”或“否”")
            return False
        if raw is None:
            self.missing(field)
        else:
            self.refuse(field, raw, f"{self.label(field)}应为 true 或 false")
        return False

    def risk_types(self) -> tuple[str, ...]:
        field = "risk_types"
        raw = self.cells.get(field)
        if _blank(raw):
            return ()
        if self.sheet and isinstance(raw, str):
            items = [item.strip() for item in _RISK_SEPARATORS.split(raw)]
        elif not self.sheet and isinstance(raw, list):
            items = [item.strip() if isinstance(item, str) else item for item in raw]
        else:
            expected = "文本，多个以“、”或“,”分隔" if self.sheet else "字符串列表"
            self.refuse(field, raw, f"{self.label(field)}应为{expected}")
            return ()
        known = RiskType._value2member_map_
        unknown = [
            str(item)
            for item in items
            if item != "" and not (isinstance(item, str) and item in known)
        ]
        if unknown:
            self.refuse(
                field,
                raw,
                f"{self.label(field)}中的“{'、'.join(unknown)}”不是有效的风险类型，"
                f"应为以下之一：{_choices(v.value for v in RiskType)}",
            )
            return ()
        return tuple(dict.fromkeys(str(item) for item in items if item))

    def money(self, field: str) -> Decimal | None:
        raw = self.cells.get(field)
        if _blank(raw):
            return None
        label = self.label(field)
        amount: Decimal | None = None
        if _is_number(raw):
            # A spreadsheet keeps 15 significant digits; JSON says what it means.
            text = f"{raw:.15g}" if self.sheet and isinstance(raw, float) else repr(raw)
            amount = Decimal(text)
        elif self.sheet and isinstance(raw, str):
            text = raw.translate(_HALF_WIDTH).strip()
            if _THOUSANDS.match(text):
                text = text.replace(",", "")
            try:
                amount = Decimal(text)
            except InvalidOperation:
                amount = None
        if amount is None or not amount.is_finite():
            self.refuse(field, raw, f"{label}应为数字（元）")
            return None
        if amount < 0:
            self.refuse(field, raw, f"{label}不能为负数")
            return None
        if amount != amount.quantize(Decimal("0.01")):
            self.refuse(field, raw, f"{label}最多保留两位小数")
            return None
        if amount >= MONEY_LIMIT:
            self.refuse(field, raw, f"{label}超出上限（应小于 10000000000 元）")
            return None
        return amount.quantize(Decimal("0.01"))

    def months(self, field: str, *, required: bool) -> int:
        raw = self.cells.get(field)
        label = self.label(field)
        if _blank(raw):
            if required:
                self.missing(field)
            return 0
        value: int | None = None
        if isinstance(raw, int) and not isinstance(raw, bool):
            value = raw
        elif self.sheet and isinstance(raw, float) and raw.is_integer():
            value = int(raw)
        elif self.sheet and isinstance(raw, str):
            text = raw.translate(_HALF_WIDTH).strip()
            value = int(text) if text.isascii() and text.isdigit() else None
        if value is None or not 0 <= value <= 12:
            self.refuse(field, raw, f"{label}应为 0 到 12 之间的整数")
            return 0
        return value

    def period(self, field: str) -> str:
        raw = self.cells.get(field)
        if _blank(raw):
            self.missing(field)
            return ""
        if self.sheet and isinstance(raw, datetime | date):
            # Excel reads a typed 2026-11 as the date 2026-11-01: its month is the period.
            return f"{raw.year:04d}-{raw.month:02d}"
        if isinstance(raw, str):
            text = raw.translate(_HALF_WIDTH).strip()
            if periods.is_period(text):
                return text
        self.refuse(field, raw, f"{self.label(field)}应为“年-月”格式的真实月份，如 2026-11")
        return ""

    def instant(self, field: str) -> datetime | None:
        raw = self.cells.get(field)
        if raw is None:
            self.missing(field)
            return None
        try:
            moment = datetime.fromisoformat(raw) if isinstance(raw, str) else None
        except ValueError:
            moment = None
        if moment is None or moment.utcoffset() is None or not instant_in_range(moment):
            self.refuse(
                field, raw, f"{field}应为带 UTC 偏移的 ISO 8601 时间，如 2026-11-20T08:00:00+08:00"
            )
            return None
        return moment

    # Personal data

    def id_number(self) -> tuple[str, bool]:
        field = "id_number"
        raw = self.cells.get(field)
        if _blank(raw):
            self.missing(field)
            return "", True
        if not self.sheet and not isinstance(raw, str):
            self.refuse(field, raw, f"{self.label(field)}应为文本")
            return "", True
        try:
            number = repair_id_number(raw)
        except InvalidIdNumber as error:
            self.refuse(field, raw, _id_reason(error.detail))
            return "", True
        return number, id_number_problem(number) is None

    def phone(self) -> str | None:
        field = "phone"
        raw = self.cells.get(field)
        if _blank(raw):
            return None
        if self.sheet and _is_number(raw) and float(raw).is_integer():
            return str(int(raw))
        if not isinstance(raw, str):
            self.refuse(field, raw, f"{self.label(field)}应为文本")
            return None
        text = raw.translate(_HALF_WIDTH).strip()
        if formula := _FORMULA_TEXT.match(text):
            text = formula.group(1)
        digits = _PHONE_SEPARATORS.sub("", text.strip("'‘’"))
        # Any number of digits is kept as given: the data checks name one that is not 11 long.
        if not digits.isascii() or not digits.isdigit():
            self.refuse(field, raw, f"{self.label(field)}只能包含数字")
            return None
        return digits

    # The record

    def employment(self) -> FeedEmployment | None:
        status = self.choice("employment.status", EmploymentStatus, required=True)
        region = self.choice("employment.region", WorkRegion, required=False)
        channel = self.choice("employment.channel", Channel, required=False)
        employer = self.text("employment.employer", EMPLOYER_MAX)
        # Months may be left empty for someone not working (0); a worker's must be stated.
        months = self.months("employment.months", required=status == EmploymentStatus.working)
        income = self.money("employment.income")
        period = self.period("employment.period")
        return FeedEmployment(
            period=period,
            status=status or "",
            region=region,
            channel=channel,
            employer=employer,
            months=months,
            income=income,
        )

    def record(self, *, employment_stated: bool) -> FeedRecord | list[RowError]:
        household_no = self.required_text("household_no", NO_MAX, code=True)
        village_code = self.required_text("village_code", 12, code=True)
        if village_code and not _VILLAGE_CODE.match(village_code):
            self.refuse("village_code", self.cells.get("village_code"), "行政区划代码应为12位数字")
        category = self.choice("household_category", HouseholdCategory, required=True)
        monitor_type = self.choice("monitor_type", MonitorType, required=False)
        risk_types = self.risk_types()
        risk_eliminated = self.flag("risk_eliminated")
        relocated = self.flag("relocated")
        income_per_capita = self.money("income_per_capita")
        member_no = self.required_text("member_no", NO_MAX, code=True)
        name = self.required_text("name", NAME_MAX)
        id_number, id_number_valid = self.id_number()
        relation = self.choice("relation", Relation, required=True)
        phone = self.phone()
        labour_type = self.choice("labour_type", LabourType, required=True)
        employment = self.employment() if employment_stated else None
        updated_at = None if self.sheet else self.instant("updated_at")
        deleted = False
        if not self.sheet and self.cells.get("deleted") is not None:
            deleted = self.flag("deleted")
        if self.errors:
            return self.errors
        return FeedRecord(
            line=self.line,
            household_no=household_no,
            village_code=village_code,
            household_category=category or "",
            monitor_type=monitor_type,
            risk_types=risk_types,
            risk_eliminated=risk_eliminated,
            relocated=relocated,
            income_per_capita=income_per_capita,
            member_no=member_no,
            name=name,
            id_number=id_number,
            relation=relation or "",
            phone=phone,
            labour_type=labour_type or "",
            employment=employment,
            updated_at=updated_at,
            deleted=deleted,
            id_number_valid=id_number_valid,
        )


def _id_reason(detail: str | None) -> str:
    # The registry's wording names the card (身份证号码); the export's column is 证件号码.
    return (detail or "身份证号码不正确").replace("身份证号码", "证件号码")
