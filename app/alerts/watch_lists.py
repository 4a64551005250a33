"""The monthly watch lists (`DOMAIN.md`, monthly cycle: 月更新、月调度、月预警), read straight from
the registry and `member_employment` with one set-based statement per page, scoped to the
caller's villages or region. What puts someone on each list is written beside its SQL below and
in docs/alert_settings.md.

Members deleted from the registry are on no list and count in no household. A list is ordered
by village, household number and member number, and paged on that key.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncSession

from app.alerts.lines import nearest_line_sql
from app.alerts.settings_scope import can_read
from app.alerts.watch_lists_schemas import HOUSEHOLD_LISTS, WatchList, WatchListItem, WatchListPage
from app.core.caller import Principal
from app.core.pagination import InvalidCursor, PageRequest, encode_cursor
from app.core.periods import shift_period
from app.core.scope import code_range
from app.policy.alerts import RISK_CLEARABLE_MONTHS, AlertRule
from app.policy.values import (
    LABOUR_FORCE,
    HouseholdCategory,
    Intent,
    sql_list,
)
from app.regions.errors import RegionNotFound
from app.regions.models import Region

TITLES = {
    WatchList.returned_home: "返乡回流",
    WatchList.willing_to_go_out: "有意愿外出",
    WatchList.unstable_employment: "就业不稳定",
    WatchList.no_intent_ledger: "无就业意愿台账",
    WatchList.risk_clearable: "可标注风险消除",
}


LABOURERS = sql_list(LABOUR_FORCE)
WATCHED_HOUSEHOLDS = sql_list([HouseholdCategory.lifted, HouseholdCategory.monitored])

# Households under the caller's ranges (scope ∩ region). The ranges are written out as bound
# parameters (`_in_ranges`) rather than joined from an array, so the planner estimates from the
# column's statistics how many households a county holds, and joins them by hash.
_HOUSEHOLDS = """
h AS (
    SELECT h.id, h.village_code, h.household_no FROM household h WHERE {ranges}
)"""


def _in_ranges(lows: list[str], highs: list[str], params: dict[str, Any]) -> str:
    if not lows:
        return "false"
    for i, (low, high) in enumerate(zip(lows, highs, strict=True)):
        params[f"low{i}"], params[f"high{i}"] = low, high
    return (
        "("
        + " OR ".join(f"h.village_code BETWEEN :low{i} AND :high{i}" for i in range(len(lows)))
        + ")"
    )


_MEMBERS = """
m AS (
    SELECT m.id AS member_id, h.id AS household_id, m.name, m.member_no, h.village_code,
           h.household_no
    FROM h JOIN member m ON m.household_id = h.id AND m.deleted_at IS NULL
    WHERE {after}
)"""

_MEMBER_ITEM = "m.member_id, m.household_id, m.name, m.member_no, m.village_code, m.household_no"
_MEMBER_ORDER = "ORDER BY m.village_code, m.household_no, m.member_no LIMIT :fetch"

# 返乡回流 and 就业不稳定 are what the month's alert run found: the members whose episode of the
# rule (`app.alerts.engine`, the one statement of each rule) covers the period, whatever its
# status (a resolved episode still holds while its condition does), with that month's evidence.
# A month no run has computed lists no one.
ALERTED = f"""
SELECT {_MEMBER_ITEM}, coalesce(a.evidence -> CAST(:period AS text), '{{}}') AS figures
FROM m
JOIN alert a ON a.member_id = m.member_id AND a.rule = :rule
     AND a.opened_period <= :period AND a.last_period >= :period
{_MEMBER_ORDER}"""  # noqa: S608 (constants of our own)
ALERTED_RULES = {
    WatchList.returned_home: AlertRule.returned_home,
    WatchList.unstable_employment: AlertRule.unstable_employment,
}

# 有意愿外出: the current intent is 外出 (intent keeps no monthly history: the list is today's,
# whatever the period). This month's status is shown beside it.
WILLING_TO_GO_OUT = f"""
SELECT {_MEMBER_ITEM}, jsonb_build_object(
    'intent_observed_at', i.observed_at, 'intent_source', i.source,
    'wanted_job_types', to_jsonb(i.wanted_job_types), 'training_needs', to_jsonb(i.training_needs),
    'status', c.status, 'work_region', c.work_region) AS figures
FROM m
JOIN member_intent i ON i.member_id = m.member_id AND i.intent = '{Intent.go_out}'
LEFT JOIN member_employment c ON c.member_id = m.member_id AND c.period = :period
{_MEMBER_ORDER}"""  # noqa: S608 (constants of our own)

# 无就业意愿台账: the current intent is 无意愿, with its reason, when and by whom recorded.
NO_INTENT_LEDGER = f"""
SELECT {_MEMBER_ITEM}, jsonb_build_object(
    'reason', i.reason, 'observed_at', i.observed_at, 'source', i.source) AS figures
FROM m
JOIN member_intent i ON i.member_id = m.member_id AND i.intent = '{Intent.none}'
{_MEMBER_ORDER}"""  # noqa: S608 (constants of our own)

# 可标注风险消除: a 脱贫 or 监测 household not yet marked risk-eliminated, with labour force,
# whose wage income per head, annualised, reached the monitoring line of the month's year in
# each of the RISK_CLEARABLE_MONTHS months ending with the period, every one of them recorded
# (at least one of its labourers has the month). A month's figure: the sum of its members'
# `member_employment.income` (none: 0) × 12 ÷ its members in the registry. Households with no
# labour force stay monitored and are never listed.
RISK_CLEARABLE = f"""
WITH villages AS (
    SELECT DISTINCT h.village_code FROM household h WHERE {{ranges}}
), lines AS (
    -- The window spans at most two years: each village's line of either.
    SELECT v.village_code,
           {nearest_line_sql("v.village_code", "CAST(:first_year AS int)")} AS first_line,
           {nearest_line_sql("v.village_code", "CAST(:last_year AS int)")} AS last_line
    FROM villages v
), h AS MATERIALIZED (
    SELECT h.id, h.village_code, h.household_no, l.first_line, l.last_line,
           count(*) AS members,
           count(*) FILTER (WHERE m.labour_type IN ({LABOURERS})) AS labourers,
           min(m.name) FILTER (WHERE m.relation = '户主') AS head
    FROM household h
    JOIN lines l ON l.village_code = h.village_code
    JOIN member m ON m.household_id = h.id AND m.deleted_at IS NULL
    WHERE {{ranges}} AND h.category IN ({WATCHED_HOUSEHOLDS}) AND NOT h.risk_eliminated {{after}}
    GROUP BY h.id, h.village_code, h.household_no, l.first_line, l.last_line
    HAVING count(*) FILTER (WHERE m.labour_type IN ({LABOURERS})) > 0
), recorded AS MATERIALIZED (
    -- The household's months in the window that one of its labourers has.
    SELECT m.household_id, e.period, sum(coalesce(e.income, 0)) AS income
    FROM h
    JOIN member m ON m.household_id = h.id AND m.deleted_at IS NULL
    JOIN member_employment e ON e.member_id = m.id AND e.period BETWEEN :first AND :period
    GROUP BY m.household_id, e.period
    HAVING count(*) FILTER (WHERE m.labour_type IN ({LABOURERS})) > 0
), clearable AS MATERIALIZED (
    SELECT h.id, h.village_code, h.household_no, h.head, h.members, h.labourers, h.last_line,
           min(r.income * 12 / h.members) AS lowest
    FROM h JOIN recorded r ON r.household_id = h.id
    WHERE r.income * 12 / h.members >= CASE WHEN left(r.period, 4) = :last_year_text
                                            THEN h.last_line ELSE h.first_line END
    GROUP BY h.id, h.village_code, h.household_no, h.head, h.members, h.labourers, h.last_line
    HAVING count(*) = :months
)
SELECT NULL::uuid AS member_id, c.id AS household_id, c.head AS name, NULL AS member_no,
       c.village_code, c.household_no, jsonb_build_object(
    'months', CAST(:months AS int), 'first_period', CAST(:first AS text),
    'last_period', CAST(:period AS text), 'members', c.members, 'labourers', c.labourers,
    'lowest_income_per_head', CAST(round(c.lowest, 2) AS text),
    'line', CAST(c.last_line AS text)) AS figures
FROM clearable c
ORDER BY c.village_code, c.household_no LIMIT :fetch"""  # noqa: S608


def _ranges(principal: Principal, region_code: str | None) -> tuple[list[str], list[str]]:
    """The caller's scope within `region_code`, as disjoint code ranges (codes nest by
    prefix, so two ranges are disjoint or one holds the other)."""
    lows, highs = principal.scope.code_ranges()
    pairs = list(zip(lows, highs, strict=True))
    if region_code is not None:
        low, high = code_range(region_code)
        pairs = [(max(a, low), min(b, high)) for a, b in pairs if max(a, low) <= min(b, high)]
    kept: list[tuple[str, str]] = []
    for low, high in sorted(pairs, key=lambda p: (p[0], -int(p[1]))):
        if not kept or high > kept[-1][1]:
            kept.append((low, high))
    return [low for low, _ in kept], [high for _, high in kept]


def _after(page: PageRequest, size: int) -> list[str] | None:
    if not page.after:
        return None
    if len(page.after) != size or not all(isinstance(v, str) for v in page.after):
        raise InvalidCursor("游标无法解析，请从第一页重新开始")
    return [str(v) for v in page.after]


async def watch_list(
    session: AsyncSession,
    principal: Principal,
    name: WatchList,
    *,
    period: str,
    region_code: str | None,
    page: PageRequest,
) -> WatchListPage:
    """One page of the list for `period` in the caller's scope (within `region_code`)."""
    if region_code is not None:
        known = await session.get(Region, region_code)
        if known is None or not can_read(principal, region_code):
            raise RegionNotFound()
    lows, highs = _ranges(principal, region_code)
    households = name in HOUSEHOLD_LISTS
    after = _after(page, 2 if households else 3)
    params: dict[str, Any] = {"fetch": page.limit + 1}
    ranges = _in_ranges(lows, highs, params)
    params["period"] = period
    if after is not None:
        params.update({f"k{i}": value for i, value in enumerate(after)})

    if households:
        after_sql = "AND (h.village_code, h.household_no) > (:k0, :k1)" if after else ""
        first = shift_period(period, 1 - RISK_CLEARABLE_MONTHS)
        params.update(
            first=first,
            months=RISK_CLEARABLE_MONTHS,
            first_year=int(first[:4]),
            last_year=int(period[:4]),
            last_year_text=period[:4],
        )
        statement = RISK_CLEARABLE.format(ranges=ranges, after=after_sql)
    else:
        keyset = "(h.village_code, h.household_no, m.member_no) > (:k0, :k1, :k2)"
        body = _member_body(name, params)
        statement = (
            "WITH "
            + _HOUSEHOLDS.format(ranges=ranges)
            + ","
            + _MEMBERS.format(after=keyset if after else "true")
            + body
        )
    query = text(statement).columns(figures=JSONB)
    rows = (await session.execute(query, params)).mappings().all()
    items = [WatchListItem.model_validate(dict(row)) for row in rows[: page.limit]]
    cursor = None
    if len(rows) > page.limit:
        last = items[-1]
        key = [last.village_code, last.household_no]
        cursor = encode_cursor(key if households else [*key, last.member_no])
    return WatchListPage(
        items=items, next_cursor=cursor, list=name, title=TITLES[name], period=period
    )


def _member_body(name: WatchList, params: dict[str, Any]) -> str:
    if name in ALERTED_RULES:
        params["rule"] = ALERTED_RULES[name].value
        return ALERTED
    if name is WatchList.willing_to_go_out:
        return WILLING_TO_GO_OUT
    assert name is WatchList.no_intent_ledger
    return NO_INTENT_LEDGER
