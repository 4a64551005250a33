"""Data checks (数据核查): the consistency rules counties run over the national export before each
monthly dispatch, run here after every import and pull (`app.feed.checks`).

Each rule has a stable `code` (what findings and exemptions name), a Chinese title and an
explanation shown to staff, and one set-based query over the registry (`household`, `member`,
`member_employment`). A query answers one row per finding:
`(household_id, member_id, village_code, period, details)`, `member_id` and `period` null for a
rule about a household, `details` the figures that made the rule fire. `$1` and `$2` are the
lowest and highest village code of the region being checked.

Decisions, in one place:

- **Which month.** Employment rules look at each member's latest period present in
  `member_employment` (the newest month recorded, whatever its source), not the calendar
  month: a month not yet reported is not a problem, and a stale record still is.
- **Members who left** (`member.deleted_at` set) are ignored everywhere: they are neither checked
  nor counted (as heads of household, or as labour force).
- **Place of work.** 务工 needs a 务工地域 (`work_region`) whatever the channel. An employer
  (务工单位) is required only where the channel names one the county itself runs or registers
  (`EMPLOYER_REQUIRED_CHANNELS`: 公益性岗位, 就业帮扶车间); migrants, flexible work,
  self-employment and farming often have none to name.
- **Personal data.** Phones and ID numbers are stored encrypted, so SQL cannot read them. Those
  two rules (`personal`) select their candidates in SQL with the ciphertext, the service decrypts
  them in chunks in Python and applies `test`, and the failing rows go into the same set-based
  write as every other rule. Neither the phone nor the birth date is kept in a finding: only its
  length, or the age.
- **Age.** Under 16 means under 16 on the first day of the month recorded, from the birth date
  in the ID number (characters 7–14).
- **Head of household.** Households with at least one current member are checked; one whose
  members have all left has no one to name as head.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import Any

from app.policy.values import (
    LABOUR_FORCE,
    OUTSIDE_COUNTY,
    Channel,
    EmploymentStatus,
    LabourType,
    Relation,
    RiskType,
    sql_list,
)


class CheckCode(StrEnum):
    working_without_workplace = "working_without_workplace"
    working_without_months = "working_without_months"
    local_post_outside_county = "local_post_outside_county"
    working_without_labour = "working_without_labour"
    household_head_count = "household_head_count"
    phone_not_11_digits = "phone_not_11_digits"
    minor_on_welfare_post = "minor_on_welfare_post"
    unstable_work_without_labour = "unstable_work_without_labour"


class Personal(StrEnum):
    """A personal field a rule reads after decryption; its query selects it as `secret`."""

    phone = "phone"
    id_number = "id_number"


# Channels whose work has an employer to name (务工单位 required).
EMPLOYER_REQUIRED_CHANNELS: frozenset[Channel] = frozenset(
    {Channel.public_welfare_post, Channel.assistance_workshop}
)
# Channels meant for work near home: a place of work outside the county contradicts them.
LOCAL_CHANNELS: frozenset[Channel] = frozenset(
    {Channel.public_welfare_post, Channel.assistance_workshop}
)
NO_LABOUR: frozenset[LabourType] = frozenset(set(LabourType) - LABOUR_FORCE)
PHONE_DIGITS = 11
PHONE_PATTERN = re.compile(r"[0-9]{11}")
MIN_WORKING_AGE = 16


WORKING = f"'{EmploymentStatus.working.value}'"

# Each current member's latest month, in the region.
LATEST_EMPLOYMENT = """
    SELECT DISTINCT ON (e.member_id)
           e.member_id, m.household_id, h.village_code, m.labour_type, m.id_number_cipher,
           e.period, e.status, e.work_region, e.channel, e.employer, e.months
    FROM member_employment e
    JOIN member m ON m.id = e.member_id
    JOIN household h ON h.id = m.household_id
    WHERE m.deleted_at IS NULL AND h.village_code BETWEEN $1 AND $2
    ORDER BY e.member_id, e.period DESC
"""


def _on_latest(details: str, condition: str) -> str:
    return f"""
    SELECT household_id, member_id, village_code, period, {details} AS details
    FROM ({LATEST_EMPLOYMENT}) AS latest
    WHERE {condition}
    """  # noqa: S608 (our own fragments and enumeration values)


_MISSING_EMPLOYER = (
    f"channel IN ({sql_list(EMPLOYER_REQUIRED_CHANNELS)}) AND btrim(coalesce(employer, '')) = ''"
)


def _age_on(birth: date, day: date) -> int:
    return day.year - birth.year - ((day.month, day.day) < (birth.month, birth.day))


def phone_finding(phone: str, period: str | None) -> dict[str, Any] | None:
    """A phone is 11 ASCII digits; anything else (spaces, dashes, too short) is a finding."""
    if PHONE_PATTERN.fullmatch(phone):
        return None
    return {"length": len(phone)}


def minor_finding(id_number: str, period: str | None) -> dict[str, Any] | None:
    """Under 16 on the first day of `period`, by the ID number's birth date; an ID number whose
    birth date cannot be read is left to the ID-number checks of the feed."""
    if period is None or len(id_number) != 18:
        return None
    try:
        birth = date(int(id_number[6:10]), int(id_number[10:12]), int(id_number[12:14]))
        month = date(int(period[:4]), int(period[5:7]), 1)
    except ValueError:
        return None
    age = _age_on(birth, month)
    return {"age": age} if age < MIN_WORKING_AGE else None


@dataclass(frozen=True, slots=True)
class DataCheck:
    code: CheckCode
    title: str
    explanation: str
    # Finding rows; with `personal`, candidate rows whose `secret` replaces `details`.
    query: str
    personal: Personal | None = None
    # With `personal`: (plaintext, period) → the details of a finding, or None when it holds.
    test: Callable[[str, str | None], dict[str, Any] | None] | None = None


CHECKS: tuple[DataCheck, ...] = (
    DataCheck(
        CheckCode.working_without_workplace,
        "务工但缺少务工地点",
        "最近一个月务工状态为“务工”，但未填写务工地域；或就业渠道为公益性岗位、就业帮扶车间，"
        "却未填写务工单位。",
        _on_latest(
            "jsonb_build_object('work_region', work_region, 'channel', channel,"
            " 'employer', employer, 'missing', to_jsonb(array_remove(ARRAY["
            "CASE WHEN work_region IS NULL THEN 'work_region' END,"
            f" CASE WHEN {_MISSING_EMPLOYER} THEN 'employer' END], NULL)))",
            f"status = {WORKING} AND (work_region IS NULL OR ({_MISSING_EMPLOYER}))",
        ),
    ),
    DataCheck(
        CheckCode.working_without_months,
        "务工但务工时间为0",
        "最近一个月务工状态为“务工”，但务工时间（月）为 0。",
        _on_latest(
            "jsonb_build_object('months', months)",
            f"status = {WORKING} AND months = 0",
        ),
    ),
    DataCheck(
        CheckCode.local_post_outside_county,
        "公益性岗位或帮扶车间在县外",
        "就业渠道为公益性岗位或就业帮扶车间（在本县就近就业），但务工地域为省外或省内县外。",
        _on_latest(
            "jsonb_build_object('work_region', work_region, 'channel', channel,"
            " 'employer', employer)",
            f"work_region IN ({sql_list(OUTSIDE_COUNTY)})"
            f" AND channel IN ({sql_list(LOCAL_CHANNELS)})",
        ),
    ),
    DataCheck(
        CheckCode.working_without_labour,
        "无劳动能力却务工",
        "劳动技能为丧失劳动力或无劳动力的成员，最近一个月记录为“务工”。",
        _on_latest(
            "jsonb_build_object('labour_type', labour_type, 'channel', channel)",
            f"status = {WORKING} AND labour_type IN ({sql_list(NO_LABOUR)})",
        ),
    ),
    DataCheck(
        CheckCode.household_head_count,
        "户主人数不为1",
        "每户应有且只有一名户主（与户主关系为“户主”）；本户没有或有多名户主。",
        f"""
        SELECT h.id AS household_id, NULL::uuid AS member_id, h.village_code,
               NULL::text AS period,
               jsonb_build_object('heads', count(*) FILTER (WHERE m.relation = '{Relation.head}'),
                                  'members', count(*)) AS details
        FROM household h
        JOIN member m ON m.household_id = h.id AND m.deleted_at IS NULL
        WHERE h.village_code BETWEEN $1 AND $2
        GROUP BY h.id
        HAVING count(*) FILTER (WHERE m.relation = '{Relation.head}') <> 1
        """,  # noqa: S608
    ),
    DataCheck(
        CheckCode.phone_not_11_digits,
        "联系电话不是11位数字",
        "成员的联系电话应为 11 位数字（手机号码）；填写了但位数不对或含其他字符。",
        """
        SELECT m.household_id, m.id AS member_id, h.village_code, NULL::text AS period,
               m.phone_cipher AS secret
        FROM member m
        JOIN household h ON h.id = m.household_id
        WHERE m.deleted_at IS NULL AND m.phone_cipher IS NOT NULL
          AND h.village_code BETWEEN $1 AND $2
        """,
        personal=Personal.phone,
        test=phone_finding,
    ),
    DataCheck(
        CheckCode.minor_on_welfare_post,
        "未满16周岁在公益性岗位",
        "按身份证号码中的出生日期，成员在最近一个务工月份的第一天未满 16 周岁，"
        "却在公益性岗位务工。",
        f"""
        SELECT household_id, member_id, village_code, period, id_number_cipher AS secret
        FROM ({LATEST_EMPLOYMENT}) AS latest
        WHERE status = {WORKING} AND channel = '{Channel.public_welfare_post}'
        """,  # noqa: S608
        personal=Personal.id_number,
        test=minor_finding,
    ),
    DataCheck(
        CheckCode.unstable_work_without_labour,
        "因务工就业不稳但家中无劳动力",
        "风险类型含“因务工就业不稳”，但家庭成员中没有劳动力"
        "（普通劳动力、技能劳动力、弱劳动力或半劳动力）：风险类型应为缺劳动力等。",
        f"""
        SELECT h.id AS household_id, NULL::uuid AS member_id, h.village_code,
               NULL::text AS period,
               jsonb_build_object('risk_types', to_jsonb(h.risk_types),
                                  'members', (SELECT count(*) FROM member m
                                              WHERE m.household_id = h.id
                                                AND m.deleted_at IS NULL)) AS details
        FROM household h
        WHERE h.village_code BETWEEN $1 AND $2
          AND '{RiskType.unstable_work}' = ANY (h.risk_types)
          AND NOT EXISTS (
              SELECT 1 FROM member m
              WHERE m.household_id = h.id AND m.deleted_at IS NULL
                AND m.labour_type IN ({sql_list(LABOUR_FORCE)}))
        """,  # noqa: S608
    ),
)

BY_CODE: dict[CheckCode, DataCheck] = {check.code: check for check in CHECKS}
assert set(BY_CODE) == set(CheckCode), "every code has its rule"
