"""Runs: computing a period's alerts over a region, asked for or scheduled.

A run's computation (the rules, the episode merge, the digest, the county's latest period and
the run's own result) is ONE transaction: a worker killed midway leaves nothing of it. That
transaction holds a lock per county of the run's region (`pg_advisory_xact_lock`), taken in
code order, so runs over overlapping regions take turns, and the database lets go of a dead
worker's locks with its connection. Progress (`rules_done`) is written beside it in short
transactions of its own, so `GET /alert-runs/{id}` shows it live.

A run left `running` by a dead worker holds no lock: the next run over its region, once it has
the locks, marks it failed and computes the period itself.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from arq.connections import ArqRedis
from sqlalchemy import ColumnElement, func, or_, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.alerts import digest, engine, episodes
from app.alerts.errors import (
    AlertRunNotFound,
    FuturePeriod,
    PeriodSuperseded,
    RegionRequired,
)
from app.alerts.models import AlertRun, AlertRunStatus, AlertRunTrigger
from app.alerts.schemas import AlertRunAccepted, AlertRunIn, AlertRunOut
from app.audit import service as audit
from app.core.caller import Principal, Role
from app.core.db import Database
from app.core.pagination import PageRequest, newest_first, newest_first_key, next_cursor
from app.core.periods import SHANGHAI, current_period
from app.core.queue import enqueue_after_commit, send_pending_jobs
from app.core.scope import RegionLevel, code_range, level_of, parent_of
from app.policy.alerts import DEFAULT_RUN_DAY, RULES, AlertRule
from app.regions.errors import RegionNotFound
from app.regions.models import Region

RUN_JOB = "alerts.run"
# The first key of the two-key advisory locks of alert runs ("wa"); the second is the county's
# six significant digits.
_LOCK_SPACE = 0x7761
_FINISHED = (AlertRunStatus.succeeded, AlertRunStatus.failed)
_INTERRUPTED = "工作进程中断，未写入任何结果；已由后续计算接替"


def _now() -> datetime:
    return datetime.now(UTC)


def county_span(region_code: str) -> tuple[str, str]:
    """The lowest and highest code of the counties a region covers: those under it, or the
    one it is or lies in."""
    levels = list(RegionLevel)
    if levels.index(level_of(region_code)) >= levels.index(RegionLevel.county):
        county = region_code[:6] + "000000"
        return county, county
    return code_range(region_code)


async def latest_period(session: AsyncSession, region_code: str) -> str | None:
    """The latest period any run has computed for a county of the region."""
    low, high = county_span(region_code)
    return await session.scalar(
        text(
            "SELECT max(period) FROM alert_county_period WHERE county_code BETWEEN :low AND :high"
        ),
        {"low": low, "high": high},
    )


async def _check_period(session: AsyncSession, period: str, region_code: str) -> None:
    latest = await latest_period(session, region_code)
    if latest is not None and period < latest:
        raise PeriodSuperseded(
            f"本区域已计算到 {latest}，{period} 的预警已不能重算（最近月份可以重算）"
        )


async def _region(session: AsyncSession, principal: Principal, wanted: str | None) -> str:
    if wanted is None:
        if principal.role is Role.admin or not principal.region_codes:
            raise RegionRequired("管理员须指明要计算的区域（region）")
        wanted = principal.region_codes[0]
    if not principal.scope.covers(wanted) or await session.get(Region, wanted) is None:
        raise RegionNotFound()
    return wanted


async def request_run(
    session: AsyncSession, principal: Principal, body: AlertRunIn
) -> AlertRunAccepted:
    """A run of `body.period` over the caller's region (or `body.region` within it)."""
    region_code = await _region(session, principal, body.region)
    if body.period > current_period(_now()):
        raise FuturePeriod(f"{body.period} 尚未开始")
    await _check_period(session, body.period, region_code)
    run = AlertRun(
        id=uuid.uuid4(),
        period=body.period,
        region_code=region_code,
        trigger=AlertRunTrigger.manual,
        status=AlertRunStatus.queued,
        requested_by=None if principal.is_system else principal.id,
    )
    session.add(run)
    await session.flush()
    audit.record(
        session,
        principal.actor,
        action="create",
        entity="alert_run",
        entity_id=run.id,
        region_code=region_code,
        changes={"period": (None, body.period), "region_code": (None, region_code)},
    )
    enqueue_after_commit(session, RUN_JOB, str(run.id))
    return AlertRunAccepted(id=run.id, status=AlertRunStatus.queued)


async def claim_scheduled(session: AsyncSession, now: datetime) -> list[uuid.UUID]:
    """This month's scheduled run of every county with households whose run day has come
    (`alert_schedule.run_day`, else `DEFAULT_RUN_DAY`) and that has none yet: one row per
    (county, period), whichever worker inserts it first (a day missed is caught up the next)."""
    moment = now.astimezone(SHANGHAI)
    rows = await session.scalars(
        text(
            """
            INSERT INTO alert_run (id, period, region_code, trigger, status)
            SELECT gen_random_uuid(), :period, r.code, 'scheduled', 'queued'
            FROM region AS r
            LEFT JOIN alert_schedule AS s ON s.county_code = r.code
            WHERE r.level = 'county' AND coalesce(s.run_day, :default_day) <= :day
              AND EXISTS (
                  SELECT 1 FROM household AS h
                  WHERE h.village_code BETWEEN r.code AND substr(r.code, 1, 6) || '999999'
              )
            ORDER BY r.code
            ON CONFLICT (region_code, period) WHERE trigger = 'scheduled' DO NOTHING
            RETURNING id
            """
        ),
        {"period": current_period(now), "default_day": DEFAULT_RUN_DAY, "day": moment.day},
    )
    return list(rows)


def _visible(principal: Principal) -> ColumnElement[bool]:
    """Runs over the caller's regions, and those over a region containing them."""
    above = {ancestor for code in principal.region_codes for ancestor in _ancestors(code)}
    inside = principal.scope.region_filter(AlertRun.region_code)
    return or_(inside, AlertRun.region_code.in_(above)) if above else inside


def _ancestors(code: str) -> list[str]:
    found = []
    parent = parent_of(code)
    while parent is not None:
        found.append(parent)
        parent = parent_of(parent)
    return found


async def get_run(session: AsyncSession, principal: Principal, run_id: uuid.UUID) -> AlertRunOut:
    run = await session.scalar(select(AlertRun).where(AlertRun.id == run_id, _visible(principal)))
    if run is None:
        raise AlertRunNotFound()
    return AlertRunOut.model_validate(run)


async def list_runs(
    session: AsyncSession, principal: Principal, page: PageRequest
) -> tuple[list[AlertRunOut], str | None]:
    statement = newest_first(
        select(AlertRun).where(_visible(principal)), AlertRun.created_at, AlertRun.id, page
    )
    rows = list((await session.scalars(statement)).all())
    rows, cursor = next_cursor(rows, page.limit, lambda r: newest_first_key(r.created_at, r.id))
    return [AlertRunOut.model_validate(r) for r in rows], cursor


# Running a run ---------------------------------------------------------------------------------


async def _counties(session: AsyncSession, region_code: str) -> list[str]:
    low, high = county_span(region_code)
    if low == high:
        return [low]
    codes = await session.scalars(
        select(Region.code)
        .where(Region.level == "county", Region.code.between(low, high))
        .order_by(Region.code)
    )
    return list(codes)


async def _write(database: Database, run_id: uuid.UUID, **values: Any) -> None:
    async with database.sessionmaker() as session, session.begin():
        await session.execute(update(AlertRun).where(AlertRun.id == run_id).values(**values))


async def _take_over(database: Database, run: AlertRun, now: datetime) -> None:
    """Marks this run running, and any other run over an overlapping region left running:
    this run holds the locks of all its counties, so such a run's worker is gone."""
    async with database.sessionmaker() as session, session.begin():
        await session.execute(
            update(AlertRun)
            .where(AlertRun.id == run.id)
            .values(
                status=AlertRunStatus.running,
                started_at=func.coalesce(AlertRun.started_at, now),
                rules_total=len(RULES),
                rules_done=0,
                error=None,
                error_code=None,
            )
        )
        overlapping = or_(
            AlertRun.region_code.between(*code_range(run.region_code)),
            AlertRun.region_code.in_(_ancestors(run.region_code)),
        )
        await session.execute(
            update(AlertRun)
            .where(
                AlertRun.status == AlertRunStatus.running,
                AlertRun.id != run.id,
                overlapping,
            )
            .values(
                status=AlertRunStatus.failed,
                error_code="interrupted",
                error=_INTERRUPTED,
                finished_at=now,
            )
        )


async def execute(
    database: Database, queue: ArqRedis, run_id: uuid.UUID, now: datetime | None = None
) -> str:
    """Runs `run_id` to its end; answers its final status. Safe to run twice, and beside
    another run over the same counties: a finished run is left as it is, and runs take turns
    by their counties' locks. The digest's delivery job goes out once the run has committed."""
    now = now or _now()
    try:
        async with database.sessionmaker() as session:
            async with session.begin():
                status = await _compute(session, database, run_id, now)
            await send_pending_jobs(session, queue)
            return status
    except Exception as failure:  # recorded on the run, then raised for the worker's log
        await _write(
            database,
            run_id,
            status=AlertRunStatus.failed,
            error_code="failed",
            error=f"计算中断：{failure}"[:2000],
            finished_at=_now(),
        )
        raise


async def _compute(
    session: AsyncSession, database: Database, run_id: uuid.UUID, now: datetime
) -> str:
    run = await session.get(AlertRun, run_id)
    if run is None:
        return AlertRunStatus.failed
    if run.status in _FINISHED:
        return run.status
    counties = await _counties(session, run.region_code)
    await session.execute(
        text(
            "SELECT pg_advisory_xact_lock(:space, c)"
            " FROM unnest(CAST(:counties AS int[])) WITH ORDINALITY AS t (c, n) ORDER BY n"
        ),
        {"space": _LOCK_SPACE, "counties": [int(code[:6]) for code in counties]},
    )
    # Another worker may have finished it while this one waited for the locks.
    status = await session.scalar(select(AlertRun.status).where(AlertRun.id == run_id))
    if status in _FINISHED:
        return str(status)
    latest = await latest_period(session, run.region_code)
    if latest is not None and run.period < latest:
        await session.execute(
            update(AlertRun)
            .where(AlertRun.id == run_id)
            .values(
                status=AlertRunStatus.failed,
                error_code=PeriodSuperseded.code,
                error=f"本区域已计算到 {latest}，不能再计算更早的 {run.period}",
                finished_at=_now(),
            )
        )
        return AlertRunStatus.failed
    await _take_over(database, run, now)

    async def progress(rule: AlertRule, hits: int) -> None:
        await _write(database, run_id, rules_done=AlertRun.rules_done + 1)

    await engine.evaluate(
        session, period=run.period, region_code=run.region_code, now=now, on_rule=progress
    )
    counts = await episodes.merge(session, period=run.period, region_code=run.region_code)
    notified = await digest.send(session, period=run.period)
    await session.execute(
        text(
            """
            INSERT INTO alert_county_period (county_code, period)
            SELECT DISTINCT county_code, :period FROM alert_evaluated
            ON CONFLICT (county_code) DO UPDATE
            SET period = greatest(alert_county_period.period, excluded.period),
                updated_at = now()
            """
        ),
        {"period": run.period},
    )
    await session.execute(
        update(AlertRun)
        .where(AlertRun.id == run_id)
        .values(
            status=AlertRunStatus.succeeded,
            rules_done=AlertRun.rules_total,
            opened=counts.opened,
            continued=counts.continued,
            ended=counts.ended,
            notified=notified,
            finished_at=_now(),
        )
    )
    return AlertRunStatus.succeeded
