"""Pulling the HTTP feed: runs asked for by a user or by the nightly cron, each paging from
the last committed cursor. Every page is applied in one transaction together with the cursor
it ends at and the run's counts, so a run that dies resumes (in the next run) exactly where
it stopped: no page is skipped, none applied twice. Two runs at once cannot both apply a
page: each page's transaction locks the cursor and checks it still stands where the run
read it.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime

import asyncpg
from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.models import Role, UserAccount
from app.core.caller import Principal
from app.core.crypto import PiiCipher
from app.core.db import Database
from app.core.pagination import PageRequest, newest_first, newest_first_key, next_cursor
from app.core.periods import SHANGHAI
from app.core.queue import enqueue_after_commit
from app.core.scope import Scope
from app.feed.apply import RegistryStatistics
from app.feed.batches import Origin, apply_batch, read_ahead
from app.feed.checks import refresh_findings
from app.feed.client import FeedRefused
from app.feed.errors import SyncRunNotFound
from app.feed.models import FeedSyncRun
from app.feed.records import FeedSource
from app.feed.schemas import SyncRunOut
from app.feed.values import RunStatus, RunTrigger
from app.notifications.outbox import notify

STREAM = "records"
SYNC_JOB = "feed.sync"


class CursorMoved(Exception):
    """Another run applied a page since this run read the cursor."""


async def request_run(session: AsyncSession, caller: Principal) -> SyncRunOut:
    run = FeedSyncRun(
        id=uuid.uuid4(),
        trigger=RunTrigger.manual,
        status=RunStatus.queued,
        requested_by=None if caller.is_system else caller.id,
    )
    session.add(run)
    await session.flush()
    enqueue_after_commit(session, SYNC_JOB, str(run.id))
    await session.refresh(run)
    return SyncRunOut.model_validate(run)


async def claim_nightly(session: AsyncSession, now: datetime) -> uuid.UUID | None:
    """Tonight's run, if no worker has claimed it yet: one row a night (`night` is unique),
    whichever worker gets there first; the others get None."""
    night: date = now.astimezone(SHANGHAI).date()
    claimed = await session.scalar(
        pg_insert(FeedSyncRun)
        .values(id=uuid.uuid4(), trigger=RunTrigger.cron, night=night, status=RunStatus.queued)
        .on_conflict_do_nothing(index_elements=["night"])
        .returning(FeedSyncRun.id)
    )
    return claimed


async def get_run(session: AsyncSession, run_id: uuid.UUID) -> SyncRunOut:
    run = await session.get(FeedSyncRun, run_id)
    if run is None:
        raise SyncRunNotFound()
    return SyncRunOut.model_validate(run)


async def list_runs(
    session: AsyncSession, page: PageRequest
) -> tuple[list[SyncRunOut], str | None]:
    statement = newest_first(select(FeedSyncRun), FeedSyncRun.created_at, FeedSyncRun.id, page)
    rows = list((await session.scalars(statement)).all())
    rows, cursor = next_cursor(rows, page.limit, lambda r: newest_first_key(r.created_at, r.id))
    return [SyncRunOut.model_validate(r) for r in rows], cursor


# One pull at a time, whichever worker: a session lock, released by the database when the
# worker holding it dies.
_PULL_LOCK = 0x7765_6E67_6665_6564  # "wengfeed"
_FINISHED = (RunStatus.succeeded, RunStatus.refused, RunStatus.failed)


async def pull(database: Database, source: FeedSource, run_id: uuid.UUID, cipher: PiiCipher) -> str:
    """Runs the pull `run_id` to its end; answers its final status. Safe to run twice: a run
    already finished is left as it is."""
    async with database.driver_connection() as connection:
        if not await connection.fetchval("SELECT pg_try_advisory_lock($1)", _PULL_LOCK):
            await _finish(database, run_id, RunStatus.failed, "另一次同步正在进行，本次未执行")
            return RunStatus.failed
        try:
            return await _pull(connection, database, source, run_id, cipher)
        finally:
            await connection.execute("SELECT pg_advisory_unlock($1)", _PULL_LOCK)


async def _pull(
    connection: asyncpg.Connection,
    database: Database,
    source: FeedSource,
    run_id: uuid.UUID,
    cipher: PiiCipher,
) -> str:
    async with connection.transaction():
        run = await connection.fetchrow(
            "SELECT status FROM feed_sync_run WHERE id = $1 FOR UPDATE", run_id
        )
        # A finished run stays finished: arq runs the job of a worker that died again once
        # its hold lapses, and by then a later run may have closed this one and carried on.
        if run is None or run["status"] in _FINISHED:
            return run["status"] if run else RunStatus.failed
        # Runs left running hold no lock: their worker died. What they applied is committed
        # with the cursor; this run carries on from there.
        await connection.execute(
            """UPDATE feed_sync_run SET status = 'failed', finished_at = now(),
                error = '工作进程中断；已提交的页不受影响，由后续同步继续'
            WHERE status = 'running' AND id <> $1""",
            run_id,
        )
        await connection.execute(
            "INSERT INTO feed_cursor (stream) VALUES ($1) ON CONFLICT DO NOTHING", STREAM
        )
        cursor = await connection.fetchval(
            "SELECT cursor FROM feed_cursor WHERE stream = $1", STREAM
        )
        await connection.execute(
            """UPDATE feed_sync_run SET status = 'running', error = NULL,
                started_at = coalesce(started_at, now()), cursor_from = coalesce(cursor_from, $2)
            WHERE id = $1""",
            run_id,
            cursor,
        )
    actor = Principal.system(f"{SYNC_JOB}:{run_id}").actor
    statistics = RegistryStatistics()
    status, error = RunStatus.succeeded, None
    try:
        async for batch in read_ahead(source.batches(cursor)):
            async with connection.transaction():
                standing = await connection.fetchval(
                    "SELECT cursor FROM feed_cursor WHERE stream = $1 FOR UPDATE", STREAM
                )
                if standing != cursor:
                    raise CursorMoved
                page = await connection.fetchval(
                    "UPDATE feed_sync_run SET pages = pages + 1 WHERE id = $1 RETURNING pages",
                    run_id,
                )
                applied = await apply_batch(
                    connection, batch, cipher=cipher, actor=actor, scope=Scope.everything(),
                    origin=Origin(sync_run_id=run_id, page=page),
                )  # fmt: skip
                await connection.execute(
                    "UPDATE feed_cursor SET cursor = $2, updated_at = now() WHERE stream = $1",
                    STREAM,
                    batch.position,
                )
                await connection.execute(
                    """UPDATE feed_sync_run SET rows_read = rows_read + $2, new = new + $3,
                        changed = changed + $4, unchanged = unchanged + $5,
                        deleted = deleted + $6, rejected = rejected + $7, cursor_to = $8
                    WHERE id = $1""",
                    run_id, applied.rows_read, applied.new, applied.changed, applied.unchanged,
                    applied.deleted, applied.rejected, batch.position,
                )  # fmt: skip
            cursor = batch.position
            await statistics.after(connection, applied)
    except CursorMoved:
        status, error = RunStatus.failed, "另一次同步已推进了游标，本次停止（不会重复或遗漏）"
    except FeedRefused as refused:
        status = RunStatus.refused
        error = f"监测系统拒绝了访问令牌，请管理员更新 FEED_TOKEN：{refused}"
    except Exception as failure:  # recorded on the run, then raised for the worker's log
        await _finish(database, run_id, RunStatus.failed, f"同步中断：{failure}")
        raise
    if status == RunStatus.succeeded:
        async with database.sessionmaker() as session, session.begin():
            await refresh_findings(session, None, cipher=cipher)
    await _finish(database, run_id, status, error)
    return status


async def _finish(database: Database, run_id: uuid.UUID, status: str, error: str | None) -> None:
    async with database.sessionmaker() as session, session.begin():
        await session.execute(
            update(FeedSyncRun)
            .where(FeedSyncRun.id == run_id)
            .values(status=status, error=error, finished_at=func.now())
        )
        if status == RunStatus.refused:
            # No retry helps: the admins must renew FEED_TOKEN. Told in the same transaction.
            admins = await session.scalars(
                select(UserAccount.id).where(
                    UserAccount.role == Role.admin, UserAccount.is_active.is_(True)
                )
            )
            await notify(
                session,
                recipients=list(admins),
                event="feed.refused",
                title="监测系统拒绝了同步",
                body=error or "监测系统拒绝了访问令牌，请更新 FEED_TOKEN",
                link=f"/feed/sync-runs/{run_id}",
            )
