"""Helpers for tests that line up concurrent work: wait for a condition, see who waits on a
lock, hold a write uncommitted, swap a shared part of the app."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any, TypeVar

import asyncpg
from arq import create_pool
from arq.constants import default_queue_name, job_key_prefix
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.config import Settings
from app.core.redis import redis_settings
from workers.main import CRON_JOBS

T = TypeVar("T")


async def until(
    condition: Callable[[], bool], what: str, seconds: float = 5.0, poll: float = 0.005
) -> None:
    """Return once `condition()` holds; fail the test, naming `what`, after `seconds`."""
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(poll)


@asynccontextmanager
async def swapped(state: Any, name: str, value: T) -> AsyncIterator[T]:
    """`state.<name>` is `value` for the block (say, a one-lane writer in `app.state`)."""
    previous = getattr(state, name)
    setattr(state, name, value)
    try:
        yield value
    finally:
        setattr(state, name, previous)


async def lock_waits(db: AsyncSession) -> list[tuple[int, str, list[int]]]:
    """Backends of this database waiting on a lock: pid, statement, the pids they wait for."""
    # The activity view is read once per transaction unless its snapshot is cleared.
    await db.execute(text("SELECT pg_stat_clear_snapshot()"))
    rows = await db.execute(
        text(
            "SELECT pid, query, pg_blocking_pids(pid) FROM pg_stat_activity"
            " WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
    )
    return [tuple(row) for row in rows]


async def sent_while_uncommitted(
    app: Any,
    db: AsyncSession,
    write: Callable[[asyncpg.Connection], Awaitable[object]],
    request: Awaitable[T],
) -> T:
    """`request` sent while another transaction (say, another process's) has run `write` and
    not committed: that transaction commits once the request waits on its rows, so the
    request's statement took its snapshot before the rows were there. The request's answer."""
    async with app.state.db.driver_connection() as other:
        transaction = other.transaction()
        await transaction.start()
        await write(other)
        sent = asyncio.ensure_future(request)
        try:
            deadline = time.monotonic() + 5
            while not await lock_waits(db):
                assert not sent.done(), f"answered without waiting: {sent.result()}"
                assert time.monotonic() < deadline, "the request never met the uncommitted rows"
                await asyncio.sleep(0.01)
        finally:
            await transaction.commit()
        return await asyncio.wait_for(sent, 5)


async def drop_queued_cron_jobs(settings: Settings) -> None:
    """Drops the cron jobs a killed `wengang worker` queued before it died (one falls due at
    every minute): a test's worker runs no cron, has no function for them and would count them
    failed."""
    names = {job.name for job in CRON_JOBS}
    redis = await create_pool(redis_settings(settings))
    try:
        queued = [j.decode() for j in await redis.zrange(default_queue_name, 0, -1)]
        stray = [j for j in queued if j.rsplit(":", 1)[0] in names]
        if stray:
            await redis.zrem(default_queue_name, *stray)
            await redis.delete(*(job_key_prefix + j for j in stray))
    finally:
        await redis.aclose()
