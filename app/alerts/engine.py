"""Evaluating the rules for a period over a region, into two temporary tables the episode merge
reads (`app.alerts.episodes`):

- `alert_hit (rule, subject, county_code, region_code, household_id, member_id, evidence)`:
  who the rule fires for this period, at most one row per (rule, subject);
- `alert_evaluated (county_code, rule)`: every (county, rule) pair evaluated (enabled).

This module evaluates 就业转失业 (employment_lost) only.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.periods import shift_period
from app.core.scope import RegionLevel, code_range, level_of
from app.policy.alerts import AlertRule

_TABLES = """
DROP TABLE IF EXISTS alert_hit, alert_evaluated;
CREATE TEMPORARY TABLE alert_hit (
    rule varchar(32) NOT NULL,
    subject varchar(36) NOT NULL,
    county_code varchar(12) NOT NULL,
    region_code varchar(12) NOT NULL,
    household_id uuid,
    member_id uuid,
    evidence jsonb NOT NULL,
    PRIMARY KEY (rule, subject)
) ON COMMIT DROP;
CREATE TEMPORARY TABLE alert_evaluated (
    county_code varchar(12) NOT NULL,
    rule varchar(32) NOT NULL,
    PRIMARY KEY (county_code, rule)
) ON COMMIT DROP;
"""

# The counties under a region (or the one it lies in), with the rule enabled there.
_EVALUATED = """
INSERT INTO alert_evaluated (county_code, rule)
SELECT r.code, CAST(:rule AS varchar)
FROM region AS r
WHERE r.level = 'county' AND r.code BETWEEN :county_low AND :county_high
  AND NOT EXISTS (
      SELECT 1 FROM alert_rule_setting AS s
      WHERE s.county_code = r.code AND s.rule = CAST(:rule AS varchar) AND NOT s.enabled
  )
"""

_EMPLOYMENT_LOST = """
INSERT INTO alert_hit (rule, subject, county_code, region_code, household_id, member_id, evidence)
SELECT CAST(:rule AS varchar), m.id::text, e.county_code, h.village_code, h.id, m.id,
       jsonb_build_object(
           'previous_period', CAST(:previous AS varchar),
           'previous_work_region', before.work_region,
           'previous_channel', before.channel,
           'previous_employer', before.employer,
           'status', now_.status
       )
FROM member_employment AS now_
JOIN member_employment AS before
  ON before.member_id = now_.member_id AND before.period = CAST(:previous AS varchar)
  AND before.status = '务工'
JOIN member AS m ON m.id = now_.member_id AND m.deleted_at IS NULL
JOIN household AS h ON h.id = m.household_id
JOIN alert_evaluated AS e
  ON e.rule = CAST(:rule AS varchar) AND e.county_code = substr(h.village_code, 1, 6) || '000000'
WHERE now_.period = CAST(:period AS varchar) AND now_.status = '未务工'
  AND h.village_code BETWEEN :low AND :high
"""


def _county_span(region_code: str) -> tuple[str, str]:
    """The lowest and highest county code among the counties a region covers (itself, the one
    it lies in, or those under it)."""
    if list(RegionLevel).index(level_of(region_code)) >= list(RegionLevel).index(
        RegionLevel.county
    ):
        county = region_code[:6] + "000000"
        return county, county
    return code_range(region_code)


async def evaluate(
    session: AsyncSession,
    *,
    period: str,
    region_code: str,
    now: datetime,
    on_rule: Callable[[AlertRule, int], Awaitable[None]] | None = None,
) -> dict[AlertRule, int]:
    """Evaluate every enabled rule for `period` over the population under `region_code`
    (any level), each county on its own thresholds. Creates and fills two temporary tables
    (ON COMMIT DROP) in the session's transaction, and answers the hit count per rule;
    `on_rule(rule, hits)` is awaited after each rule."""
    for statement in filter(None, (s.strip() for s in _TABLES.split(";"))):
        await session.execute(text(statement))
    low, high = code_range(region_code)
    county_low, county_high = _county_span(region_code)
    rule = AlertRule.employment_lost
    await session.execute(
        text(_EVALUATED), {"rule": rule.value, "county_low": county_low, "county_high": county_high}
    )
    result = await session.execute(
        text(_EMPLOYMENT_LOST),
        {
            "rule": rule.value,
            "period": period,
            "previous": shift_period(period, -1),
            "low": low,
            "high": high,
        },
    )
    hits = {rule: int(result.rowcount or 0)}  # type: ignore[attr-defined]
    if on_rule is not None:
        await on_rule(rule, hits[rule])
    return hits
