"""A full run of the monthly alert rules against its floor: `SELECT count(*)` over the 12-month
employment table.

    .venv/bin/python bench/alerts.py [--labourers N] [--reuse]

On a database of its own (`wengang_bench_alerts_<N>`, migrated), built set-based by
`generate_series` (no Python per row): one province of counties of 10 townships × 12
villages, three labourers a household, 12 months of `member_employment` per labourer ending
with the period, intents, job pushes, visits, help requests, a provincial monitoring line and
township targets. The employment history is filled as the migration's backfill fills it
(`app.alerts.history.REBUILD`, the same fold the writer runs). `--reuse` keeps a database
already built for N.

Then, in one process and one run, after the same warm-up (each measured thing run once):

- **floor**: `SELECT count(*) FROM member_employment` (the 12 months), best of `--repeats` (three);
- **run**: `app.alerts.engine.evaluate` of every rule for the last period over the province,
  best of `--repeats` (three), each in its own transaction (rolled back), timed per rule;
- the process's peak RSS (`ru_maxrss`), and EXPLAIN (ANALYZE, BUFFERS) of the slowest step.

Target (issue 15): the run at most 10× the floor, under 60 s, the worker under 1 GB.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import resource
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

import harness
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine

from app.alerts import engine, staging
from app.alerts.history import REBUILD
from app.core.db import session_driver_connection

PERIOD = "2026-10"
NOW = datetime(2026, 11, 10, tzinfo=UTC)  # the period is over: its cut-off is its end
LABOURERS_PER_HOUSEHOLD = 3
LABOURERS_PER_COUNTY = 25_000
TOWNSHIPS, VILLAGES = 10, 12
PROVINCE = "530000000000"

# Counties (`$1` of them), ten to a city; each with its townships and villages.
REGIONS = """
INSERT INTO region (code, name, level, parent_code)
VALUES ('530000000000', '云南省', 'province', NULL);
INSERT INTO region (code, name, level, parent_code)
SELECT DISTINCT '53' || lpad((c / 10 + 1)::text, 2, '0') || '00000000', '市', 'city',
    '530000000000'
FROM generate_series(0, :counties - 1) AS c;
INSERT INTO region (code, name, level, parent_code)
SELECT '53' || lpad((c / 10 + 1)::text, 2, '0') || lpad((c % 10 + 1)::text, 2, '0') || '000000',
    '县', 'county', '53' || lpad((c / 10 + 1)::text, 2, '0') || '00000000'
FROM generate_series(0, :counties - 1) AS c;
INSERT INTO region (code, name, level, parent_code)
SELECT left(r.code, 6) || lpad(t::text, 3, '0') || '000', '乡', 'township', r.code
FROM region AS r CROSS JOIN generate_series(1, 10) AS t WHERE r.level = 'county';
INSERT INTO region (code, name, level, parent_code)
SELECT left(r.code, 9) || lpad(v::text, 3, '0'), '村', 'village', r.code
FROM region AS r CROSS JOIN generate_series(1, 12) AS v WHERE r.level = 'township';
"""

# Households spread over the villages in turn; three labourers each.
PEOPLE = """
INSERT INTO household (id, household_no, village_code, category, risk_eliminated,
    income_per_capita)
SELECT <hid:i>, 'H' || lpad(i::text, 10, '0'),
    v.codes[i % cardinality(v.codes) + 1],
    (ARRAY['脱贫户', '监测户', '一般农户'])[i % 3 + 1], i % 7 = 0,
    (6000 + (i * 37) % 12000)::numeric
FROM generate_series(0, :households - 1) AS i
CROSS JOIN (SELECT array_agg(code ORDER BY code) AS codes FROM region WHERE level = 'village') AS v;
INSERT INTO member (id, household_id, member_no, name, id_number_cipher, id_number_index,
    relation, labour_type)
SELECT <mid:j>, <hid:(j / 3)>, 'M' || lpad(j::text, 11, '0'), '某某',
    '\\x00', uuid_send(<mid:j>), (ARRAY['户主', '配偶', '之子'])[j % 3 + 1],
    (ARRAY['普通劳动力', '技能劳动力', '弱劳动力或半劳动力', '丧失劳动力'])[j % 4 + 1]
FROM generate_series(0, :labourers - 1) AS j;
"""

# Twelve months ending with the period. A labourer's pattern depends on its number: most work
# all year, some stop, some change employers, some work away, some farm.
EMPLOYMENT = """
INSERT INTO member_employment (member_id, period, status, work_region, channel, employer,
    months, income, source, observed_at)
SELECT <mid:j>, to_char(date '2025-11-01' + make_interval(months => k), 'YYYY-MM'),
    CASE WHEN w THEN '务工' ELSE '未务工' END,
    CASE WHEN w THEN (ARRAY['省外', '省内县外', '县内'])[j % 3 + 1] END,
    CASE WHEN w THEN (ARRAY['外出务工', '灵活就业', '务农', '公益性岗位'])[j % 4 + 1] END,
    CASE WHEN w THEN '单位' || ((j + CASE WHEN j % 11 = 0 THEN k ELSE 0 END) % 5000) END,
    CASE WHEN w THEN 1 ELSE 0 END,
    CASE WHEN w THEN (2000 + j % 3000 - CASE WHEN j % 13 = 0 THEN k * 100 ELSE 0 END)::numeric END,
    'feed', now()
FROM generate_series(0, :labourers - 1) AS j
CROSS JOIN generate_series(0, 11) AS k
CROSS JOIN LATERAL (
    SELECT NOT (j % 5 = 0 OR (j % 17 = 0 AND k = 11) OR (j % 9 = 0 AND k % 4 = 0)) AS w
) AS x
"""

EXTRAS = """
INSERT INTO member_intent (member_id, intent, reason, source, observed_at)
SELECT <mid:j>, (ARRAY['外出', '就近', '无意愿'])[j % 3 + 1],
    CASE WHEN j % 3 = 2 THEN '照顾家人' END, 'feed', now()
FROM generate_series(0, :labourers - 1) AS j;
INSERT INTO monitoring_line (region_code, year, amount) VALUES ('530000000000', 2026, 7500);
INSERT INTO employment_target (region_code, year, target)
SELECT code, 2026, 2400 FROM region WHERE level = 'township';
INSERT INTO user_account (id, kind, display_name, role)
VALUES ('00000000-0000-0000-0000-0000000000aa', 'person', 'bench', 'coordinator');
INSERT INTO visit (id, household_id, coordinator_id, village_code, visited_at, method,
    request_hash)
SELECT md5('visit' || i)::uuid, <hid:i>, '00000000-0000-0000-0000-0000000000aa',
    h.village_code, timestamptz '2026-10-31 12:00+08' - make_interval(days => i % 60),
    'in_person', md5('visit' || i)
FROM generate_series(0, :households - 1, 2) AS i JOIN household AS h ON h.id = <hid:i>;
"""


async def build(url: str, labourers: int) -> None:
    households = labourers // LABOURERS_PER_HOUSEHOLD
    counties = max(1, -(-labourers // LABOURERS_PER_COUNTY))
    values = {"counties": counties, "households": households, "labourers": labourers}

    def run(sql: str) -> None:
        for name, value in values.items():
            sql = sql.replace(f":{name}", str(value))
        sql = re.sub(r"<(hid|mid):([^>]+)>", _ids, sql)
        started = time.monotonic()
        # Row triggers (foreign keys, the audit log's guard) off, as pg_restore does: the rows
        # reference what this script made.
        harness.psql("SET session_replication_role = replica; SET work_mem = '256MB';" + sql, url)
        print(f"  built in {time.monotonic() - started:.1f} s: {sql.strip().splitlines()[0][:70]}")

    run(REGIONS)
    run(PEOPLE)
    run(EMPLOYMENT)
    run(EXTRAS)
    pool = create_async_engine(_asyncpg(url))
    async with pool.connect() as connection:
        started = time.monotonic()
        await connection.exec_driver_sql("SET work_mem = '256MB'")
        raw = (await connection.get_raw_connection()).driver_connection
        await raw.execute(REBUILD)  # type: ignore[union-attr]
        await connection.commit()
        print(f"  history in {time.monotonic() - started:.1f} s")
    await pool.dispose()
    harness.psql("VACUUM ANALYZE", url)


def _ids(match: re.Match[str]) -> str:
    """Ids in the order of their number: rows are appended to the indexes, not scattered."""
    prefix = "00000001" if match[1] == "hid" else "00000002"
    return f"('{prefix}-0000-4000-8000-' || lpad(to_hex({match[2]}), 12, '0'))::uuid"


def _asyncpg(url: str) -> str:
    return url.replace("postgresql://", "postgresql+asyncpg://", 1)


def _stopwatch(
    marks: dict[str, float], started: float
) -> Callable[[engine.AlertRule, int], Awaitable[None]]:
    last = started

    async def on_rule(rule: engine.AlertRule, hits: int) -> None:
        nonlocal last
        now = time.monotonic()
        marks[rule.value] = now - last
        last = now

    return on_rule


async def measure(url: str, repeats: int) -> list[str]:
    pool = create_async_engine(_asyncpg(url), pool_size=1)
    counts: list[float] = []
    runs: list[tuple[float, dict[str, float], dict[str, int]]] = []
    async with AsyncSession(pool) as session:
        connection = await session_driver_connection(session)
        await connection.fetchval("SELECT count(*) FROM member_employment")  # warm-up
        await session.rollback()
        await engine.evaluate(session, period=PERIOD, region_code=PROVINCE, now=NOW)
        await session.rollback()
        for _ in range(repeats):
            connection = await session_driver_connection(session)
            started = time.monotonic()
            rows = await connection.fetchval("SELECT count(*) FROM member_employment")
            counts.append(time.monotonic() - started)
            await session.rollback()
        for _ in range(repeats):
            marks: dict[str, float] = {}
            started = time.monotonic()
            on_rule = _stopwatch(marks, started)

            hits = await engine.evaluate(
                session, period=PERIOD, region_code=PROVINCE, now=NOW, on_rule=on_rule
            )
            runs.append((time.monotonic() - started, marks, {k.value: v for k, v in hits.items()}))
            await session.rollback()

        # The slowest step, explained, in a run of its own (staged as a run stages).
        best = min(runs, key=lambda r: r[0])
        connection = await session_driver_connection(session)
        await engine.evaluate(session, period=PERIOD, region_code=PROVINCE, now=NOW)
        staged = await staging.stage(connection, region_code=PROVINCE, year=int(PERIOD[:4]))
        for name, value in engine.run_settings(PROVINCE).items():  # evaluate restored them
            await connection.execute("SELECT set_config($1, $2, true)", name, value)
        timed: list[tuple[float, engine.Step, list[str]]] = []
        for step in engine.steps(PERIOD, PROVINCE, NOW, staged):
            statement = step.statement
            if step.creates:
                await connection.execute(f"DROP TABLE {step.creates}")
            else:
                await connection.execute("TRUNCATE alert_hit")
            for name, value in step.settings:
                await connection.execute("SELECT set_config($1, $2, true)", name, value)
            started = time.monotonic()
            plan = await connection.fetch(
                f"EXPLAIN (ANALYZE, BUFFERS) {statement}", *step.arguments
            )
            timed.append((time.monotonic() - started, step, [r[0] for r in plan]))
            for name, _ in step.settings:
                await connection.execute("SELECT set_config($1, 'on', true)", name)
            if step.creates:
                await connection.execute(f"ANALYZE {step.creates}")
        await session.rollback()
    await pool.dispose()

    floor = min(counts)
    run_seconds = best[0]
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    lines = [
        f"# Alert rules over {rows:,} employment rows ({rows // 12:,} labourers × 12 months)",
        "",
        f"- floor, `SELECT count(*) FROM member_employment`: best {floor:.2f} s"
        f" (runs: {', '.join(f'{c:.2f}' for c in counts)})",
        f"- full run of every rule for {PERIOD}: best {run_seconds:.2f} s"
        f" (runs: {', '.join(f'{r[0]:.2f}' for r in runs)})",
        f"- ratio run ÷ floor: **{run_seconds / floor:.1f}×** (target ≤ 10×)",
        f"- peak RSS of this process: {rss_mb:.0f} MB (target < 1024 MB)",
        "",
        "| rule (time since the previous rule's end, best run) | s | hits |",
        "|---|---:|---:|",
    ]
    for rule, seconds in best[1].items():
        lines.append(f"| {rule} | {seconds:.2f} | {best[2][rule]:,} |")
    lines += ["", "| step (EXPLAIN ANALYZE run) | s |", "|---|---:|"]
    for seconds, step, _ in timed:
        lines.append(f"| {step.name} | {seconds:.2f} |")
    slowest = max(timed, key=lambda t: t[0])
    lines += ["", f"## Slowest step: {slowest[1].name}", "", "```", *slowest[2], "```"]
    return lines


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--labourers", type=int, default=3_000_000)
    parser.add_argument("--reuse", action="store_true", help="keep a database built for N")
    parser.add_argument("--build-only", action="store_true")
    parser.add_argument("--repeats", type=int, default=3, help="measured runs of each")
    args = parser.parse_args()
    name = f"wengang_bench_alerts_{args.labourers}"
    url = harness.database_url(name)
    exists = harness.psql(f"SELECT 1 FROM pg_database WHERE datname = '{name}'")
    if not (args.reuse and exists):
        harness.psql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        harness.psql(f"CREATE DATABASE {name}")
        env = {"DATABASE_URL": url, "REDIS_URL": harness.REDIS_URL, "APP_ENV": "development"}
        harness.sh(str(harness.BIN / "wengang"), "migrate", env=env)
        started = time.monotonic()
        asyncio.run(build(url, args.labourers))
        print(f"built in {time.monotonic() - started:.0f} s")
    if args.build_only:
        return
    lines = asyncio.run(measure(url, args.repeats))
    harness.publish(f"alerts_{args.labourers}.md", lines)


if __name__ == "__main__":
    main()
