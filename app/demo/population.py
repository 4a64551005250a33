"""Seed a synthetic population: households, members, monthly employment history and intents.

Deterministic for a seed (see `people.py` for what is drawn), written by COPY in batches of
households so a million members never sit in memory. While the database takes one batch, a
worker thread draws the next: generation and index maintenance overlap on two cores.
"""

from __future__ import annotations

import asyncio
import contextlib
import csv
import random
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from asyncpg import Connection
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from app.alerts import history
from app.core.config import Settings
from app.core.crypto import PiiCipher
from app.core.periods import SHANGHAI, current_period, is_period, shift_period
from app.core.scope import RegionLevel
from app.demo.people import WAGE_DRIFT, WAGE_STEP, Calendar, Chunk, PopulationGenerator
from app.policy.values import EmploymentStatus, ObservationSource
from app.regions.importer import DEMO_COUNTY_CSV, ImportReport, open_text, parse_rows

DEFAULT_HOUSEHOLDS = 600
DEFAULT_SEED = 20261122
CHUNK_HOUSEHOLDS = 2_500  # ~10,000 members and ~70,000 employment rows per batch

HOUSEHOLD_COLUMNS = (
    "id", "household_no", "village_code", "category", "monitor_type", "risk_types",
    "risk_eliminated", "relocated", "income_per_capita", "version",
)  # fmt: skip
MEMBER_COLUMNS = (
    "id", "household_id", "member_no", "name", "id_number_cipher", "id_number_index",
    "phone_cipher", "phone_index", "relation", "labour_type", "skills", "in_school",
    "disability", "version",
)  # fmt: skip
PLAN_COLUMNS = (
    "member_id", "mask", "work_region", "channel", "employer", "wage_step", "worked",
)  # fmt: skip
INTENT_COLUMNS = (
    "member_id", "intent", "reason", "training_needs", "wanted_job_types", "source",
    "observed_at",
)  # fmt: skip


# One plan per labourer, expanded to a row per month: bit i of `mask` says period i was worked.
CREATE_PLAN_TABLE = """
CREATE TEMP TABLE IF NOT EXISTS seed_employment_plan (
    member_id uuid, mask int, work_region text, channel text, employer text, wage_step int,
    worked smallint[]
) ON COMMIT DROP
"""
EXPAND_PLANS = """
INSERT INTO member_employment
    (member_id, period, status, work_region, channel, employer, months, income, source,
     observed_at)
SELECT p.member_id, ($1::text[])[i], CASE WHEN w THEN $4 ELSE $5 END,
       CASE WHEN w THEN p.work_region END, CASE WHEN w THEN p.channel END,
       CASE WHEN w THEN p.employer END, p.worked[i],
       CASE WHEN w THEN ((p.wage_step + ($3::int[])[i]) * $6::int)::numeric END,
       $7, ($2::timestamptz[])[i]
FROM seed_employment_plan p
-- Per plan row (lateral on p): rows arrive member by member, appending to the primary key.
CROSS JOIN LATERAL generate_series(1, cardinality(p.worked)) AS i
CROSS JOIN LATERAL (SELECT p.mask >> (i - 1) & 1 = 1 AS w) AS month
"""
# Employment is three quarters of the rows, and its per-row foreign-key trigger almost half of
# their cost. Where the role may, the expansion runs with row triggers off (what pg_restore
# --disable-triggers does) and the same guarantee is checked once per batch, set-based: every
# plan names a member of this transaction, which no one else can see, let alone delete.
ORPHAN_PLANS = """
SELECT count(*) FROM seed_employment_plan p
WHERE NOT EXISTS (SELECT 1 FROM member m WHERE m.id = p.member_id)
"""


class PopulationExists(Exception):
    """The target villages already have households: seeding again would duplicate people."""


@dataclass
class PopulationReport:
    households: int = 0
    members: int = 0
    employment: int = 0
    intents: int = 0

    def add(self, chunk: Chunk, employment: int) -> None:
        self.households += len(chunk.households)
        self.members += len(chunk.members)
        self.employment += employment
        self.intents += len(chunk.intents)

    @property
    def rows(self) -> int:
        return self.households + self.members + self.employment + self.intents


def demo_villages() -> list[str]:
    """The village-level codes of the demo county csv, in code order."""
    with open_text(DEMO_COUNTY_CSV) as handle:
        rows = parse_rows(iter(csv.reader(handle)), ImportReport())
        return sorted(row[0] for row in rows if row[2] == RegionLevel.village)


def history_calendar(end_period: str, months: int, now: datetime | None = None) -> Calendar:
    """`months` periods ending at `end_period`, each observed at its end (but never later than
    now: a feed row from the future would outrank every visit made this month)."""
    now = now or datetime.now(UTC)
    periods = tuple(shift_period(end_period, -offset) for offset in range(months - 1, -1, -1))
    observed = []
    for period in periods:
        following = shift_period(period, 1)
        start = datetime(int(following[:4]), int(following[5:7]), 1, tzinfo=SHANGHAI)
        observed.append(min(start - timedelta(seconds=1), now))
    last = periods[-1]
    reference = date(int(last[:4]), int(last[5:7]), 1)
    return Calendar(periods=periods, observed_at=tuple(observed), reference=reference)


async def seed_population(
    connection: AsyncConnection,
    settings: Settings,
    *,
    households: int = DEFAULT_HOUSEHOLDS,
    seed: int = DEFAULT_SEED,
    villages: list[str] | None = None,
    months: int = 12,
    end_period: str | None = None,
    batch_fk_check: bool = True,
) -> PopulationReport:
    """Add `households` synthetic households (about four members each) to `villages`.

    Runs inside the caller's transaction. Refuses villages that already have households;
    ID numbers already stored elsewhere are never reused. `batch_fk_check=False` keeps the
    per-row foreign-key trigger on employment rows even where the role could skip it.
    """
    if households < 0:
        raise ValueError("households must not be negative")
    if not 1 <= months <= 24:
        raise ValueError("months must be between 1 and 24")
    end_period = end_period or current_period()
    if not is_period(end_period):
        raise ValueError(f"end_period {end_period!r} is not YYYY-MM")
    villages = sorted(set(villages or demo_villages()))
    if not villages:
        raise ValueError("no villages to seed")
    populated = await connection.scalar(
        text("SELECT EXISTS (SELECT 1 FROM household WHERE village_code = ANY(:villages))"),
        {"villages": villages},
    )
    if populated:
        raise PopulationExists("these villages already have households")
    taken = set((await connection.execute(text("SELECT id_number_index FROM member"))).scalars())

    calendar = history_calendar(end_period, months)
    generator = PopulationGenerator(
        random.Random(seed),  # noqa: S311 - synthetic data, reproducible on purpose
        PiiCipher.from_settings(settings),
        villages,
        calendar,
        taken,
    )
    raw = (await connection.get_raw_connection()).driver_connection
    assert raw is not None
    await raw.execute(CREATE_PLAN_TABLE)
    replication_role = None  # set when the foreign key is checked by batch: to restore it
    if batch_fk_check and await _may_skip_row_triggers(raw):
        replication_role = await raw.fetchval("SELECT current_setting('session_replication_role')")
    drift = [WAGE_DRIFT[int(period[5:7]) - 1] for period in calendar.periods]
    expand = (
        list(calendar.periods),
        list(calendar.observed_at),
        drift,
        EmploymentStatus.working.value,
        EmploymentStatus.not_working.value,
        WAGE_STEP,
        ObservationSource.feed.value,
    )
    sizes = [
        min(CHUNK_HOUSEHOLDS, households - start)
        for start in range(0, households, CHUNK_HOUSEHOLDS)
    ]
    report = PopulationReport()
    loop = asyncio.get_running_loop()
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="seed-population") as pool:
        chunk = await loop.run_in_executor(pool, generator.chunk, sizes[0]) if sizes else None
        pending: asyncio.Future[Chunk] | None = None
        try:
            for following in [*sizes[1:], None]:
                assert chunk is not None
                await _copy(raw, chunk)
                # The next batch is drawn while the database expands this one's employment:
                # Python and PostgreSQL each keep a core busy, and COPY never waits on the GIL.
                if following:
                    pending = loop.run_in_executor(pool, generator.chunk, following)
                report.add(chunk, await _expand(raw, chunk, expand, replication_role))
                if pending is not None:
                    chunk, pending = await pending, None
        finally:
            if pending is not None:  # the database failed: let the draw end before the pool
                with contextlib.suppress(Exception):
                    await pending
    if households:
        # Plans for the next queries should know the tables grew.
        await connection.execute(
            text("ANALYZE household, member, member_employment, member_intent")
        )
    return report


async def _copy(raw: Connection, chunk: Chunk) -> None:
    for table, columns, records in (
        ("household", HOUSEHOLD_COLUMNS, chunk.households),
        ("member", MEMBER_COLUMNS, chunk.members),
        ("seed_employment_plan", PLAN_COLUMNS, chunk.employment_plans),
        ("member_intent", INTENT_COLUMNS, chunk.intents),
    ):
        if records:
            await raw.copy_records_to_table(table, columns=columns, records=records)


async def _may_skip_row_triggers(raw: Connection) -> bool:
    if await raw.fetchval("SELECT current_setting('is_superuser') = 'on'"):
        return True
    if raw.get_server_version() < (15, 0):
        return False  # only superusers may set session_replication_role before 15
    return bool(
        await raw.fetchval("SELECT has_parameter_privilege('session_replication_role', 'SET')")
    )


async def _expand(
    raw: Connection, chunk: Chunk, parameters: tuple, replication_role: str | None
) -> int:
    """A row per labourer per month from the batch's plans; returns how many.

    With `replication_role` (the role to return to), row triggers are off while the rows go
    in and the foreign key is checked once for the batch.
    """
    if not chunk.employment_plans:
        return 0
    if replication_role is None:
        status = await raw.execute(EXPAND_PLANS, *parameters)
    else:
        await raw.execute("SET LOCAL session_replication_role = replica")
        status = await raw.execute(EXPAND_PLANS, *parameters)
        await raw.execute(
            "SELECT set_config('session_replication_role', $1, true)", replication_role
        )
        orphans = await raw.fetchval(ORPHAN_PLANS)
        if orphans:
            raise RuntimeError(f"{orphans} employment plans name no member")
    # The months went in by COPY, not through the member writer: their history is folded
    # here, as the writer would have (`app.alerts.history`).
    await raw.execute(
        history.REBUILD_MEMBERS,
        await raw.fetchval("SELECT array_agg(member_id) FROM seed_employment_plan"),
    )
    await raw.execute("TRUNCATE seed_employment_plan")
    return int(status.rsplit(" ", 1)[1])
