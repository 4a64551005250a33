"""The monthly alert rules, evaluated set-based over the population of a region for one period
(`docs/alert_rules.md` states each rule; `app.policy.alerts` names them and their thresholds).

A run, in the caller's transaction:

1. stages each county's thresholds, each village's monitoring line and each region's target
   (`app.alerts.staging`);
2. reads every member of the registry under the region once, with its household and its
   one-row employment history (`app.alerts.history`), into `alert_member`: the facts of the
   period each rule needs (this month, last month, the last 12 months, the masks of months
   away and flexible, year-to-date income), O(1) per member; `employment` is never read;
3. evaluates the member rules over those facts (each rule a `Check`: a named predicate and
   the evidence it records, in one place), then the household rules over the facts grouped
   by household and over the households themselves, then the regional rules over the
   households grouped by village and township. The rules that read other tables (pushes,
   help requests, visits, open items) join them to the facts or the households.

It answers in two temporary tables (dropped at commit): `alert_hit`, one row per rule and
subject that fires, with its evidence, and `alert_evaluated`, every (county, rule) pair
evaluated (the rule enabled in the county). Nothing else is written.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from app.alerts.history import WINDOW, month_index
from app.alerts.staging import Staged, stage, switch_column, threshold_column
from app.core.db import session_driver_connection
from app.core.periods import shift_period
from app.core.scope import RegionLevel, code_range, level_of
from app.policy.alerts import AlertRule, period_cutoff
from app.policy.help_requests import TRAINING_CATEGORY
from app.policy.jobs import PUSH_INTENTS
from app.policy.values import (
    LABOUR_FORCE,
    EmploymentStatus,
    HouseholdCategory,
    sql_list,
)

R = AlertRule

# Planner settings for the run's statements, restored after it: hash joins and aggregates
# over every member of a province in memory, not in batches; and the member pass, which reads
# only the registry's own tables, spread over parallel workers even though it hands every
# member's row back to the leader (the default tuple cost keeps such a pass on one core).
# Compiling a statement (JIT) costs about a second of CPU: worth it for a province's member
# pass (its cost is about 900,000 for 3,000,000 members; compiled, a province's run takes about
# a second less), not for a county's (about 8,000).
RUN_SETTINGS = {
    "work_mem": "256MB",
    "parallel_tuple_cost": "0.001",
    "parallel_setup_cost": "0",
    "jit_above_cost": "500000",
}


def run_settings(region_code: str) -> dict[str, str]:
    """The planner settings of a run over `region_code`."""
    return dict(RUN_SETTINGS)


def _by_hash(region_code: str) -> bool:
    """Whether the member pass over `region_code` joins by hash only: over a county or more.
    The planner cannot tell how many households a county's thresholds match (the join is on
    a part of the village code) and, guessing few, would look every member up by key."""
    return level_of(region_code) in (RegionLevel.province, RegionLevel.city, RegionLevel.county)


def _on(rule: AlertRule) -> str:
    return f"c.{switch_column(rule)}"


def _t(rule: AlertRule, name: str) -> str:
    return f"c.{threshold_column(rule, name)}"


@dataclass(frozen=True, slots=True)
class Check:
    rule: AlertRule
    when: str  # over the rule's facts and `c` (alert_county)
    evidence: str  # a jsonb object of the figures


_INSERT_HITS = (
    "INSERT INTO alert_hit"
    " (rule, subject, county_code, region_code, household_id, member_id, evidence)\n"
)


def _hits(checks: tuple[Check, ...], columns: str, source: str) -> dict[AlertRule, str]:
    """Each check's statement inserting its hits: a scan of `source` (a narrow table) per
    rule, `columns` the subject's (subject, county, region, household, member)."""
    return {
        check.rule: f"{_INSERT_HITS}SELECT '{check.rule.value}', {columns}, {check.evidence}\n"
        f"{source}\nWHERE {_on(check.rule)} AND {check.when}"
        for check in checks
    }


# --- Bits of the history row ---------------------------------------------------------------
# `o` is the period's place in the member's window (`$1 - e.base`); a month outside the window
# (before it: unknown; after it: nothing recorded yet) has no bit set.


def _bit(mask: str, offset: str) -> str:
    return (
        f"CASE WHEN {offset} BETWEEN 0 AND {WINDOW - 1} THEN ({mask} >> ({offset})) & 1 = 1"
        " ELSE false END"
    )


def _span(last: str, months: str) -> str:
    """The mask of the `months` months ending with `last`, clipped to the window."""
    low = f"greatest({last} - ({months}) + 1, 0)"
    high = f"least({last}, {WINDOW - 1})"
    return (
        f"CASE WHEN {high} < {low} THEN 0::bigint"
        f" ELSE ((1::bigint << ({high} - {low} + 1)) - 1) << {low} END"
    )


def _run(mask: str, last: str, months: str) -> str:
    """`months` consecutive months ending with `last`, every one of them in `mask`."""
    full = f"(((1::bigint << ({months})) - 1) << ({last} - ({months}) + 1))"
    return (
        f"CASE WHEN {last} - ({months}) + 1 >= 0 AND {last} <= {WINDOW - 1}"
        f" THEN ({mask} & {full}) = {full} ELSE false END"
    )


def _ytd(offset: str) -> str:
    """Income from January to the month at `offset`: unknown before the window, nothing after."""
    return (
        f"CASE WHEN {offset} < 0 THEN NULL WHEN {offset} > {WINDOW - 1} THEN 0"
        f" ELSE e.ytd[{offset} + 1] END"
    )


# What the rules need of a member's history for the period, from its row alone ($1 the
# period's month index). Members without history have none of it.
_HISTORY_FACTS = f"""
    SELECT e.member_id, x.o,
        {_bit("e.recorded", "x.o")} AS cur_recorded,
        {_bit("e.working", "x.o")} AS cur_working,
        {_bit("e.farming", "x.o")} AS cur_farming,
        {_bit("e.working", "x.o - 1")} AS prev_working,
        {_bit("e.away", "x.o - 1")} AS prev_away,
        bit_count((e.working & {_span("x.o", "12")})::bit(64))::smallint AS months_worked,
        bit_count((e.changed & {_span("x.o", "12")})::bit(64))::smallint AS employer_changes,
        e.away, e.flexible,
        {_ytd("x.o")} AS ytd_this,
        {_ytd("x.o - 12")} AS ytd_last
    FROM member_employment_history AS e
    CROSS JOIN LATERAL (SELECT $1::integer - e.base AS o) AS x"""  # noqa: S608

# --- The member rules: each a predicate over the facts and its evidence ---------------------


_AWAY_RUN = _run("m.away", "m.o", _t(R.subsidy_eligible, "away_months"))
_FLEXIBLE_RUN = _run("m.flexible", "m.o", _t(R.subsidy_eligible, "flexible_months"))


@dataclass(frozen=True, slots=True)
class MemberCheck:
    """A member rule in two halves. `fires`, over the member's facts (`m`) and its county's
    thresholds (`c`), is what the member pass keeps of it (`kind`: true, or a nonzero code,
    when it fires); `evidence`, over what the pass kept (`m`) and the county (`c`, with the
    evidence every member of the county shares, `COUNTY_EVIDENCE`), is the hit's figures, NULL
    when it does not fire."""

    rule: AlertRule
    fires: str
    evidence: str
    kind: str = "boolean"


# Evidence the same for every hit of a rule in a county: built once per county, not per hit
# ($1 the period, $2 last month).
COUNTY_EVIDENCE = {
    "lost_evidence": "jsonb_build_object('period', $1::text, 'last_month', $2::text,"
    f" 'last_month_status', '{EmploymentStatus.working.value}',"
    f" 'status', '{EmploymentStatus.not_working.value}')",
    "returned_evidence": "jsonb_build_object('period', $1::text, 'last_month', $2::text,"
    " 'last_month_work_region', '省外或省内县外',"
    f" 'status', '{EmploymentStatus.not_working.value}')",
    "away_evidence": "jsonb_build_object('period', $1::text, 'basis', 'away',"
    f" 'months', {_t(R.subsidy_eligible, 'away_months')})",
    "flexible_evidence": "jsonb_build_object('period', $1::text, 'basis', 'flexible',"
    f" 'months', {_t(R.subsidy_eligible, 'flexible_months')})",
}

# $1 the period, $2 last month, $3 the first month of the 12 ending with the period.
MEMBER_RULES: tuple[MemberCheck, ...] = (
    # 务工 last month, a record this month saying 未务工 (no record: unknown).
    MemberCheck(
        R.employment_lost,
        "m.prev_working AND m.cur_recorded AND NOT m.cur_working",
        "CASE WHEN m.employment_lost THEN c.lost_evidence END",
    ),
    # Working 省外 or 省内县外 last month; recorded and not working this month.
    MemberCheck(
        R.returned_home,
        "m.prev_away AND m.cur_recorded AND NOT m.cur_working",
        "CASE WHEN m.returned_home THEN c.returned_evidence END",
    ),
    # In the 12 months ending with the period: worked, but fewer months than the county's
    # minimum, or as many employer changes as its maximum or more.
    MemberCheck(
        R.unstable_employment,
        "m.months_worked >= 1 AND (m.months_worked"
        f" < {_t(R.unstable_employment, 'min_months_employed')}"
        f" OR m.employer_changes >= {_t(R.unstable_employment, 'max_employer_changes')})",
        "CASE WHEN m.unstable_employment THEN jsonb_build_object('from', $3::text,"
        " 'to', $1::text, 'months_employed', m.months_worked,"
        " 'employer_changes', m.employer_changes,"
        f" 'min_months_employed', {_t(R.unstable_employment, 'min_months_employed')},"
        f" 'max_employer_changes', {_t(R.unstable_employment, 'max_employer_changes')}) END",
    ),
    # Working away (省外/省内县外) the county's number of months in a row ending with the
    # period (kept as 1), or 灵活就业 its number of months in a row (2).
    MemberCheck(
        R.subsidy_eligible,
        f"CASE WHEN {_AWAY_RUN} THEN 1 WHEN {_FLEXIBLE_RUN} THEN 2 ELSE 0 END",
        "CASE m.subsidy_eligible WHEN 1 THEN c.away_evidence WHEN 2 THEN c.flexible_evidence END",
        kind="smallint",
    ),
)


def _kept(check: MemberCheck) -> str:
    """The member pass's column of a rule: its `fires` where the county evaluates it."""
    off = "false" if check.kind == "boolean" else f"0::{check.kind}"
    fires = check.fires if check.kind == "boolean" else f"({check.fires})::{check.kind}"
    return f"CASE WHEN {_on(check.rule)} THEN {fires} ELSE {off} END AS {check.rule.value}"


# Every member of the registry under the region ($2 low, $3 high village code), with its
# household, county and the facts of the period, and what each member rule found. It reads
# no temporary table (the counties' thresholds are written into it, `Staged.inline`), so that
# for a province it runs as parallel hash joins, the rules evaluated in the workers. It keeps
# no evidence: the hits' figures are built when they are copied (`_MEMBER_HITS`), the ones a
# county's hits share once per county.
_MEMBERS = f"""
CREATE TEMP TABLE alert_member ON COMMIT DROP AS
SELECT m.member_id, m.household_id, m.village_code, m.category, m.county_code, m.labour,
    m.cur_working, m.cur_farming, m.prev_working, m.ytd_this, m.ytd_last, m.intent,
    m.months_worked, m.employer_changes,
    <rules>
FROM (
    SELECT p.id AS member_id, p.household_id, h.village_code, h.category,
        rpad(left(h.village_code, 6), 12, '0')::varchar(12) AS county_code,
        p.labour_type IN ({sql_list(LABOUR_FORCE)}) AS labour,
        coalesce(f.cur_recorded, false) AS cur_recorded,
        coalesce(f.cur_working, false) AS cur_working,
        coalesce(f.cur_farming, false) AS cur_farming,
        coalesce(f.prev_working, false) AS prev_working,
        coalesce(f.prev_away, false) AS prev_away,
        coalesce(f.months_worked, 0) AS months_worked,
        coalesce(f.employer_changes, 0) AS employer_changes,
        f.o, f.away, f.flexible,
        coalesce(f.ytd_this, 0) AS ytd_this, f.ytd_last,
        i.intent
    FROM member AS p
    JOIN household AS h ON h.id = p.household_id
    LEFT JOIN (<history>) AS f ON f.member_id = p.id
    LEFT JOIN member_intent AS i ON i.member_id = p.id AND i.intent IN ({sql_list(PUSH_INTENTS)})
    WHERE p.deleted_at IS NULL AND h.village_code BETWEEN $2 AND $3
) AS m
JOIN <counties> ON c.county_code = m.county_code
"""  # noqa: S608 (our own fragments and values)
_MEMBERS = _MEMBERS.replace("<history>", _HISTORY_FACTS).replace(
    "<rules>", ",\n    ".join(_kept(check) for check in MEMBER_RULES)
)

# Each member rule's hits: the members the member pass found it fired for, their evidence
# built here (what a county's hits share, once per county). $1 the period, $2 last month, $3
# the first month of the 12.
_MEMBER_HITS = {
    check.rule: f"""{_INSERT_HITS}SELECT '{check.rule.value}', m.member_id::text, m.county_code,
    m.village_code, m.household_id, m.member_id, {check.evidence}
FROM alert_member AS m
JOIN (
    SELECT c.*, {", ".join(f"{expr} AS {name}" for name, expr in COUNTY_EVIDENCE.items())}
    FROM alert_county AS c
    OFFSET 0
) AS c ON c.county_code = m.county_code
WHERE {f"m.{check.rule.value}" if check.kind == "boolean" else f"m.{check.rule.value} <> 0"}
"""  # noqa: S608 (our own fragments and values)
    for check in MEMBER_RULES
}


# Intent 外出 or 就近, not working this month (recorded or not), and fewer full rounds of
# pushes (rounds holding the county's number of jobs, pushed before the cut-off) than the
# county's minimum. $1 the period, $2 the cut-off. The pushes are counted per member and round
# in one aggregate, joined by hash: not looked up member by member.
def _intent_evidence(intent: str, rounds: str) -> str:
    return (
        f"jsonb_build_object('period', $1::text, 'intent', {intent}, 'full_rounds', {rounds},"
        f" 'min_rounds', {_t(R.intent_unassisted, 'min_rounds')},"
        f" 'jobs_per_round', {_t(R.intent_unassisted, 'jobs_per_round')})"
    )


# The evidence of a candidate without a full round (most of them), per county and intent: built
# once per county, as the member rules' shared evidence is.
_UNPUSHED = {intent.value: f"unpushed_{n}" for n, intent in enumerate(sorted(PUSH_INTENTS))}

_UNPUSHED_COLUMNS = ", ".join(
    _intent_evidence(f"'{intent}'", "0") + f" AS {name}" for intent, name in _UNPUSHED.items()
)
_INTENT_EVIDENCE = (
    "CASE "
    + " ".join(
        f"WHEN f.rounds = 0 AND m.intent = '{intent}' THEN c.{name}"
        for intent, name in _UNPUSHED.items()
    )
    + f" ELSE {_intent_evidence('m.intent', 'f.rounds')} END"
)

_INTENT_UNASSISTED = f"""
INSERT INTO alert_hit (rule, subject, county_code, region_code, household_id, member_id, evidence)
SELECT '{R.intent_unassisted.value}', m.member_id::text, m.county_code, m.village_code,
    m.household_id, m.member_id, {_INTENT_EVIDENCE}
FROM alert_member AS m
JOIN (
    SELECT c.*, {_UNPUSHED_COLUMNS}
    FROM alert_county AS c
    WHERE {_on(R.intent_unassisted)}
    OFFSET 0
) AS c ON c.county_code = m.county_code
LEFT JOIN (
    SELECT n.member_id, array_agg(n.jobs) AS jobs
    FROM (
        SELECT j.member_id, count(*) AS jobs FROM job_push AS j
        WHERE j.pushed_at < $2::timestamptz
        GROUP BY j.member_id, j.round
    ) AS n
    GROUP BY n.member_id
) AS p ON p.member_id = m.member_id
CROSS JOIN LATERAL (
    SELECT CASE WHEN p.jobs IS NULL THEN 0 ELSE (
        SELECT count(*) FROM unnest(p.jobs) AS r(jobs)
        WHERE r.jobs >= {_t(R.intent_unassisted, "jobs_per_round")}
    )::integer END AS rounds
) AS f
WHERE m.intent IN ({sql_list(PUSH_INTENTS)})
    AND NOT m.cur_working AND f.rounds < {_t(R.intent_unassisted, "min_rounds")}
"""  # noqa: S608 (our own fragments and values)

# A 技能培训 request accepted more than the county's days before the cut-off (the deadline of
# `app.policy.help_requests`, on the Shanghai clock), still open then (not resolved or
# withdrawn before it), with no enrolment (`enrolled`) made after its acceptance and before
# the cut-off. The member's oldest such request names the alert. $1 cut-off, $2/$3 range.
_TRAINING_OVERDUE = f"""
INSERT INTO alert_hit (rule, subject, county_code, region_code, household_id, member_id, evidence)
SELECT DISTINCT ON (p.id) '{R.training_overdue.value}', p.id::text, v.county_code,
    h.village_code, h.id, p.id,
    jsonb_build_object('request_id', r.id::text,
        'accepted_at', to_char(r.accepted_at AT TIME ZONE 'Asia/Shanghai',
            'YYYY-MM-DD"T"HH24:MI:SS+08:00'),
        'days', floor(extract(epoch FROM $1::timestamptz - r.accepted_at) / 86400)::integer,
        'limit_days', {_t(R.training_overdue, "days")})
FROM help_request AS r
JOIN member AS p ON p.id = r.member_id AND p.deleted_at IS NULL
JOIN household AS h ON h.id = p.household_id
JOIN alert_village AS v ON v.village_code = h.village_code
JOIN alert_county AS c ON c.county_code = v.county_code
WHERE {_on(R.training_overdue)} AND r.category = '{TRAINING_CATEGORY.value}'
    AND r.accepted_at IS NOT NULL AND h.village_code BETWEEN $2 AND $3
    AND (r.accepted_at AT TIME ZONE 'Asia/Shanghai'
        + make_interval(days => {_t(R.training_overdue, "days")})) AT TIME ZONE 'Asia/Shanghai' < $1
    AND (r.resolved_at IS NULL OR r.resolved_at >= $1)
    AND (r.withdrawn_at IS NULL OR r.withdrawn_at >= $1)
    AND NOT EXISTS (
        SELECT 1 FROM training_enrollment AS t
        WHERE t.member_id = r.member_id AND t.status = 'enrolled'
            AND t.created_at >= r.accepted_at AND t.created_at < $1
    )
ORDER BY p.id, r.accepted_at, r.id
"""  # noqa: S608 (our own fragments and values)

# --- Household rules -------------------------------------------------------------------------

# Per household, from its members' facts: labour force, who works (务农 counted as the county
# says), and the year-to-date wage income of this year and of the same months last year. The
# incomes (whole fen) are summed as float8, exact for any household's total (below 2^53): a
# bigint sum keeps a 128-bit state allocated per group, a quarter of the grouping's time over
# a province's million households.
_HOUSEHOLD_FACTS = """
CREATE TEMP TABLE alert_household ON COMMIT DROP AS
SELECT m.household_id, m.county_code, m.village_code, m.category,
    count(*) FILTER (WHERE m.labour)::integer AS labour,
    count(*) FILTER (WHERE m.cur_working)::integer AS working,
    count(*) FILTER (WHERE m.cur_working AND NOT m.cur_farming)::integer AS working_off_farm,
    count(*) FILTER (WHERE m.prev_working)::integer AS working_before,
    sum(m.ytd_this::float8)::bigint AS income_this,
    sum(m.ytd_last::float8)::bigint AS income_last
FROM alert_member AS m
GROUP BY m.household_id, m.county_code, m.village_code, m.category
"""

HOUSEHOLD_RULES: tuple[Check, ...] = (
    # 脱贫户 or 监测户 with labour force and nobody working this month.
    Check(
        R.zero_employment_household,
        f"a.category IN ('{HouseholdCategory.lifted.value}', '{HouseholdCategory.monitored.value}')"
        " AND a.labour >= 1 AND CASE WHEN"
        f" {_t(R.zero_employment_household, 'farming_counts')} THEN a.working = 0"
        " ELSE a.working_off_farm = 0 END",
        "jsonb_build_object('period', $1::text, 'category', a.category,"
        " 'labour_force', a.labour, 'working', 0,"
        f" 'farming_counts', {_t(R.zero_employment_household, 'farming_counts')})",
    ),
    # Wage income January to the period, against the same months last year (in fen).
    Check(
        R.income_drop,
        "a.income_last > 0 AND a.income_this * 100"
        f" < a.income_last * (100 - {_t(R.income_drop, 'drop_percent')})",
        "jsonb_build_object('period', $1::text,"
        " 'income_this_year', round(a.income_this / 100.0, 2),"
        " 'income_last_year', round(a.income_last / 100.0, 2),"
        " 'drop_percent', round(100.0 * (a.income_last - a.income_this) / a.income_last, 1),"
        f" 'threshold_percent', {_t(R.income_drop, 'drop_percent')})",
    ),
)

_HOUSEHOLD_HITS = _hits(
    HOUSEHOLD_RULES,
    "a.household_id::text, a.county_code, a.village_code, a.household_id, NULL::uuid",
    "FROM alert_household AS a JOIN alert_county AS c ON c.county_code = a.county_code",
)

# Income per head below the line of the household's village for the year (none: not
# evaluated; no income: does not fire; exactly the line: does not fire). $1 period, $2/$3.
_BELOW_LINE = f"""
INSERT INTO alert_hit (rule, subject, county_code, region_code, household_id, member_id, evidence)
SELECT '{R.below_monitoring_line.value}', h.id::text, v.county_code, h.village_code, h.id, NULL,
    jsonb_build_object('period', $1::text, 'income_per_capita', h.income_per_capita,
        'line', v.line)
FROM household AS h
JOIN alert_village AS v ON v.village_code = h.village_code
JOIN alert_county AS c ON c.county_code = v.county_code
WHERE {_on(R.below_monitoring_line)} AND h.village_code BETWEEN $2 AND $3
    AND v.line IS NOT NULL AND h.income_per_capita < v.line
"""  # noqa: S608 (our own fragments and values)

# A 监测户 whose risk is not eliminated, with no visit in the county's days before the cut-off
# (on the Shanghai clock; a visit exactly that long before counts). Never visited: counted
# from when the household entered the registry. $1 the cut-off, $2/$3.
_VISIT_OVERDUE = f"""
INSERT INTO alert_hit (rule, subject, county_code, region_code, household_id, member_id, evidence)
SELECT '{R.visit_overdue.value}', h.id::text, v.county_code, h.village_code, h.id, NULL,
    jsonb_build_object(
        'last_visit_at', to_char(l.visited_at AT TIME ZONE 'Asia/Shanghai',
            'YYYY-MM-DD"T"HH24:MI:SS+08:00'),
        'days_since', floor(extract(epoch FROM
            $1::timestamptz - coalesce(l.visited_at, h.created_at)) / 86400)::integer,
        'limit_days', {_t(R.visit_overdue, "days")})
FROM household AS h
JOIN alert_village AS v ON v.village_code = h.village_code
JOIN alert_county AS c ON c.county_code = v.county_code
LEFT JOIN LATERAL (
    SELECT max(s.visited_at) AS visited_at FROM visit AS s
    WHERE s.household_id = h.id AND s.visited_at < $1
) AS l ON true
WHERE {_on(R.visit_overdue)} AND h.village_code BETWEEN $2 AND $3
    AND h.category = '{HouseholdCategory.monitored.value}' AND NOT h.risk_eliminated
    AND h.created_at < $1
    AND (coalesce(l.visited_at, h.created_at) AT TIME ZONE 'Asia/Shanghai'
        + make_interval(days => {_t(R.visit_overdue, "days")})) AT TIME ZONE 'Asia/Shanghai' < $1
"""  # noqa: S608 (our own fragments and values)

# Open reconciliation items (feed conflicts of the household's members) and data-check
# findings, opened more than the county's days before the cut-off. $1 cut-off, $2/$3.
_DATA_INCONSISTENT = f"""
INSERT INTO alert_hit (rule, subject, county_code, region_code, household_id, member_id, evidence)
SELECT '{R.data_inconsistent.value}', h.id::text, v.county_code, h.village_code, h.id, NULL,
    jsonb_build_object('conflicts', d.conflicts, 'findings', d.findings,
        'oldest_at', to_char(d.oldest AT TIME ZONE 'Asia/Shanghai',
            'YYYY-MM-DD"T"HH24:MI:SS+08:00'),
        'limit_days', {_t(R.data_inconsistent, "days")})
FROM (
    SELECT o.household_id, count(*) FILTER (WHERE o.kind = 'conflict')::integer AS conflicts,
        count(*) FILTER (WHERE o.kind = 'finding')::integer AS findings,
        min(o.opened_at) AS oldest
    FROM (
        SELECT p.household_id, 'conflict' AS kind, f.created_at AS opened_at
        FROM feed_conflict AS f JOIN member AS p ON p.id = f.member_id
        WHERE f.status = 'open' AND f.village_code BETWEEN $2 AND $3
        UNION ALL
        SELECT k.household_id, 'finding', k.first_found_at
        FROM data_check_finding AS k
        WHERE k.village_code BETWEEN $2 AND $3
    ) AS o
    JOIN household AS h ON h.id = o.household_id
    JOIN alert_village AS v ON v.village_code = h.village_code
    JOIN alert_county AS c ON c.county_code = v.county_code
    WHERE (o.opened_at AT TIME ZONE 'Asia/Shanghai'
        + make_interval(days => {_t(R.data_inconsistent, "days")}))
        AT TIME ZONE 'Asia/Shanghai' < $1
    GROUP BY o.household_id
) AS d
JOIN household AS h ON h.id = d.household_id
JOIN alert_village AS v ON v.village_code = h.village_code
JOIN alert_county AS c ON c.county_code = v.county_code
WHERE {_on(R.data_inconsistent)}
"""  # noqa: S608 (our own fragments and values)

# --- Regional rules --------------------------------------------------------------------------

# Working (务工) members this month and last, per village and per township under the region
# (every village and township of the region, those without members too). $1/$2 range.
_REGION_FACTS = """
CREATE TEMP TABLE alert_region ON COMMIT DROP AS
WITH per_village AS (
    SELECT v.village_code, v.township_code, v.county_code,
        coalesce(sum(a.working), 0)::integer AS working,
        coalesce(sum(a.working_before), 0)::integer AS working_before
    FROM alert_village AS v
    LEFT JOIN alert_household AS a ON a.village_code = v.village_code
    GROUP BY v.village_code, v.township_code, v.county_code
)
SELECT village_code AS region_code, county_code, working, working_before FROM per_village
UNION ALL
SELECT township_code, county_code, sum(working)::integer, sum(working_before)::integer
FROM per_village
WHERE township_code BETWEEN $1 AND $2
GROUP BY township_code, county_code
"""

REGION_RULES: tuple[Check, ...] = (
    # Fell by more than the county's percentage on last month (last month's count > 0).
    Check(
        R.region_employment_drop,
        "g.working_before > 0 AND (g.working_before - g.working) * 100"
        f" > g.working_before * {_t(R.region_employment_drop, 'drop_percent')}",
        "jsonb_build_object('period', $1::text, 'working', g.working,"
        " 'working_last_month', g.working_before,"
        " 'drop_percent', round(100.0 * (g.working_before - g.working) / g.working_before, 1),"
        f" 'threshold_percent', {_t(R.region_employment_drop, 'drop_percent')})",
    ),
    # Behind the year's pace: working < target × month ÷ 12 × (1 − tolerance ÷ 100).
    Check(
        R.region_behind_target,
        "t.target IS NOT NULL AND g.working * 1200"
        f" < t.target * $2::integer * (100 - {_t(R.region_behind_target, 'tolerance_percent')})",
        "jsonb_build_object('period', $1::text, 'working', g.working, 'target', t.target,"
        " 'pace', round(t.target * $2::integer / 12.0, 1),"
        f" 'tolerance_percent', {_t(R.region_behind_target, 'tolerance_percent')})",
    ),
)

_REGION_HITS = _hits(
    REGION_RULES,
    "g.region_code, g.county_code, g.region_code, NULL::uuid, NULL::uuid",
    "FROM alert_region AS g JOIN alert_county AS c ON c.county_code = g.county_code"
    " LEFT JOIN alert_target AS t ON t.region_code = g.region_code",
)

_OUTPUT = """
DROP TABLE IF EXISTS pg_temp.alert_hit, pg_temp.alert_evaluated, pg_temp.alert_member,
    pg_temp.alert_household, pg_temp.alert_region;
CREATE TEMP TABLE alert_hit (
    rule varchar(32) NOT NULL,
    subject varchar(36) NOT NULL,
    county_code varchar(12) NOT NULL,
    region_code varchar(12) NOT NULL,
    household_id uuid,
    member_id uuid,
    evidence jsonb NOT NULL
) ON COMMIT DROP;
CREATE TEMP TABLE alert_evaluated (
    county_code varchar(12) NOT NULL,
    rule varchar(32) NOT NULL,
    PRIMARY KEY (county_code, rule)
) ON COMMIT DROP;
"""


@dataclass(frozen=True, slots=True)
class Step:
    """One statement of a run."""

    name: str
    statement: str
    arguments: tuple[object, ...]
    rule: AlertRule | None = None  # the rule whose hits it inserts
    rules: tuple[AlertRule, ...] = ()  # or the rules whose hits it inserts, answering (rule, hits)
    creates: str | None = None  # or the table of facts it makes
    settings: tuple[tuple[str, str], ...] = ()  # planner settings for it alone


def _used(statement: str, arguments: tuple[object, ...]) -> tuple[object, ...]:
    """The arguments a statement takes: `$1`…`$n`, the rules of a group using the first few."""
    used = [int(n) for n in re.findall(r"\$(\d+)", statement)]
    return arguments[: max(used, default=0)]


def steps(period: str, region_code: str, now: datetime, staged: Staged) -> list[Step]:
    """A run's statements after staging, in order (the benchmark times and explains them)."""
    cutoff = period_cutoff(period, now)
    month = int(period[5:7])
    low, high = code_range(region_code)
    last_month, first_month = shift_period(period, -1), shift_period(period, -11)
    hits = [
        *(
            Step(rule.value, sql, _used(sql, (period, last_month, first_month)), rule)
            for rule, sql in _MEMBER_HITS.items()
        ),
        Step("intent_unassisted", _INTENT_UNASSISTED, (period, cutoff), R.intent_unassisted),
        Step("training_overdue", _TRAINING_OVERDUE, (cutoff, low, high), R.training_overdue),
    ]
    households = [
        *(
            Step(rule.value, sql, _used(sql, (period,)), rule)
            for rule, sql in _HOUSEHOLD_HITS.items()
        ),
        Step("below_monitoring_line", _BELOW_LINE, (period, low, high), R.below_monitoring_line),
        Step("visit_overdue", _VISIT_OVERDUE, (cutoff, low, high), R.visit_overdue),
        Step("data_inconsistent", _DATA_INCONSISTENT, (cutoff, low, high), R.data_inconsistent),
    ]
    regions = [
        Step(rule.value, sql, _used(sql, (period, month)), rule)
        for rule, sql in _REGION_HITS.items()
    ]
    return [
        Step(
            "member facts",
            _MEMBERS.replace("<counties>", staged.inline),
            (month_index(period), low, high),
            creates="alert_member",
            settings=(("enable_nestloop", "off"),) if _by_hash(region_code) else (),
        ),
        *hits,
        Step("household facts", _HOUSEHOLD_FACTS, (), creates="alert_household"),
        *households,
        Step("region facts", _REGION_FACTS, (low, high), creates="alert_region"),
        *regions,
    ]


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
    connection = await session_driver_connection(session)
    # Hash joins and aggregates over every member of a province: in memory, not in batches.
    settings = run_settings(region_code)
    before = {
        name: await connection.fetchval("SELECT current_setting($1)", name) for name in settings
    }
    for name, value in settings.items():
        await connection.execute("SELECT set_config($1, $2, true)", name, value)
    await connection.execute(_OUTPUT)
    staged = await stage(connection, region_code=region_code, year=int(period[:4]))
    await connection.executemany(
        "INSERT INTO alert_evaluated (county_code, rule) VALUES ($1, $2)",
        [(county, rule.value) for county, rules in staged.enabled.items() for rule in rules],
    )
    counts: dict[AlertRule, int] = {rule: 0 for rule in AlertRule}
    for step in steps(period, region_code, now, staged):
        kept = [
            (name, await connection.fetchval("SELECT current_setting($1)", name))
            for name, _ in step.settings
        ]
        for name, value in step.settings:
            await connection.execute("SELECT set_config($1, $2, true)", name, value)
        if step.rules:
            found = dict(await connection.fetch(step.statement, *step.arguments))
            done = {rule: int(found.get(rule.value, 0)) for rule in step.rules}
        else:
            status = await connection.execute(step.statement, *step.arguments)
            done = {step.rule: int(status.rsplit(" ", 1)[1])} if step.rule else {}  # INSERT 0 n
        for name, value in kept:
            await connection.execute("SELECT set_config($1, $2, true)", name, value)
        for rule, hits in done.items():
            counts[rule] = hits
            if on_rule is not None:
                await on_rule(rule, hits)
    for name, value in before.items():
        await connection.execute("SELECT set_config($1, $2, true)", name, value)
    return counts
