"""Each labourer's recent employment in one row (`member_employment_history`): what the monthly
alert rules need of the past, so that a run reads one row per member instead of a year of
months (`docs/alert_rules.md`).

The row covers a window of `WINDOW` months: the calendar year of the member's latest recorded
month and the two years before it. `base` is the month index (`year × 12 + month − 1`) of the
window's first January; bit `i` of each mask is the month `base + i`:

- `recorded`: a row exists for the month;
- `working`: 务工 that month; `away`: working 省外 or 省内县外; `flexible`: working, channel
  灵活就业; `farming`: working, channel 务农;
- `changed`: working for another employer than in the previous month worked in the window
  (both employers known; `employers[i + 1]` keys the month's employer, 0 for none);
- `ytd[i + 1]`: the wage income recorded from January to that month of its year, in fen.

The one member writer (`app.households.writer_sql`) keeps it: the months a statement writes are
folded into the member's row by `employment_history_overlay` (a new row) or
`employment_history_combine` (onto the stored row's latest version, locked by the upsert), both
made by the migration of 2026-11-29 22:10. Their cost is the written months' and the window's,
never the length of a member's history. Months older than the window are not kept.
"""

from __future__ import annotations

from app.policy.values import OUTSIDE_COUNTY, Channel, EmploymentStatus, sql_list

WINDOW = 36

# What a set of `member_employment` rows (`<row>`) gives `employment_history_overlay`, one
# array each, aggregated per member.
_WORKING = f"<row>.status = '{EmploymentStatus.working.value}'"
HISTORY_MONTHS = f"""
        array_agg(left(<row>.period, 4)::integer * 12 + substr(<row>.period, 6, 2)::integer - 1)
            AS months,
        array_agg({_WORKING}) AS working,
        array_agg({_WORKING}
            AND coalesce(<row>.work_region IN ({sql_list(OUTSIDE_COUNTY)}), false)) AS away,
        array_agg({_WORKING} AND coalesce(<row>.channel = '{Channel.flexible.value}', false))
            AS flexible,
        array_agg({_WORKING} AND coalesce(<row>.channel = '{Channel.farming.value}', false))
            AS farming,
        array_agg(employment_history_employer(<row>.employer)) AS employers,
        array_agg(round(coalesce(<row>.income, 0) * 100)::bigint) AS incomes"""

# Rebuilds members' history from their stored months: what a bulk load that writes
# `member_employment` by COPY (the demo seed, benchmarks) runs afterwards, as the migration's
# backfill did. `<which>` chooses the months read.
_REBUILD = """
INSERT INTO member_employment_history AS h
SELECT n.*
FROM (
    SELECT e.member_id, <months>
    FROM member_employment AS e
    <which>
    GROUP BY e.member_id
) AS g
CROSS JOIN LATERAL employment_history_overlay(
    NULL, g.member_id, g.months, g.working, g.away, g.flexible, g.farming, g.employers,
    g.incomes
) AS n
ON CONFLICT (member_id) DO UPDATE SET (
    base, recorded, working, away, flexible, farming, changed, employers, ytd
) = (
    excluded.base, excluded.recorded, excluded.working, excluded.away, excluded.flexible,
    excluded.farming, excluded.changed, excluded.employers, excluded.ytd
)
""".replace("<months>", HISTORY_MONTHS.replace("<row>", "e"))

# Every member's history.
REBUILD = _REBUILD.replace("<which>", "")
# The history of the members whose ids `$1` (uuid[]) holds, their months read by key: a bulk
# load rebuilding batch after batch must not read the whole table each time.
REBUILD_MEMBERS = _REBUILD.replace("<which>", "WHERE e.member_id = ANY ($1::uuid[])")


def month_index(period: str) -> int:
    """`YYYY-MM` as the history's month index."""
    return int(period[:4]) * 12 + int(period[5:7]) - 1
