"""Pulls end to end: the feed simulator on loopback, the settings pointed at it, a run asked
for through the API and drained by a real arq burst worker."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager, suppress
from typing import Any

import httpx
import pytest
from arq.worker import Worker
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.config import Settings
from app.feed.simulator import FeedSimulator, FeedSimulatorServer
from tests.feed.simulated import TOKEN
from tests.waiting import drop_queued_cron_jobs
from workers.main import worker_options

RUNS = "/api/v1/feed/sync-runs"
PAGE_SIZE = 50


@contextmanager
def serving(simulator: FeedSimulator) -> Iterator[FeedSimulatorServer]:
    server = FeedSimulatorServer(simulator)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def point_at(
    monkeypatch: pytest.MonkeyPatch, settings: Settings, server: FeedSimulatorServer, **fields: Any
) -> None:
    """The worker's settings (the session's `settings`, which burst workers hand to jobs)
    aimed at `server`, with waits short enough for a test."""
    values: dict[str, Any] = {
        "feed_url": server.base_url,
        "feed_token": TOKEN,
        "feed_page_size": PAGE_SIZE,
        "feed_timeout_seconds": 5.0,
        "feed_max_attempts": 5,
        "feed_backoff_seconds": 0.01,
        **fields,
    }
    for name, value in values.items():
        monkeypatch.setattr(settings, name, value)


async def request_run(client: httpx.AsyncClient, headers: dict[str, str]) -> str:
    response = await client.post(RUNS, headers=headers)
    assert response.status_code == 202, response.text
    assert response.json()["status"] == "queued"
    return str(response.json()["id"])


async def drain(settings: Settings, **options: Any) -> Worker:
    """Runs what is queued on a real arq worker in burst mode."""
    worker = Worker(**worker_options(settings, burst=True, poll_delay=0.05, **options))
    try:
        await worker.main()
    finally:
        await worker.close()
    return worker


async def work_until(
    settings: Settings, done: Callable[[], Awaitable[bool]], seconds: float = 60.0
) -> Worker:
    """Runs a real arq worker (not in burst mode, no cron) until `done()`. A burst worker
    would wait forever beside a job arq holds "in progress" for a worker that died."""
    await drop_queued_cron_jobs(settings)
    worker = Worker(**worker_options(settings, poll_delay=0.05, cron_jobs=[]))
    running = asyncio.create_task(worker.main())
    try:
        deadline = time.monotonic() + seconds
        while not await done():
            assert not running.done(), "the worker stopped"
            assert time.monotonic() < deadline, "timed out waiting for the worker"
            await asyncio.sleep(0.05)
    finally:
        running.cancel()
        with suppress(asyncio.CancelledError):
            await running
        await worker.close()
    return worker


async def pull(
    client: httpx.AsyncClient, headers: dict[str, str], settings: Settings
) -> dict[str, Any]:
    """A run asked for by an admin, run by a worker; answers it as `GET /sync-runs` lists it."""
    run_id = await request_run(client, headers)
    worker = await drain(settings)
    assert worker.jobs_failed == 0
    return await listed_run(client, headers, run_id)


async def listed_run(client: httpx.AsyncClient, headers: dict[str, str], run_id: str) -> Any:
    response = await client.get(RUNS, headers=headers, params={"limit": 100})
    assert response.status_code == 200, response.text
    [run] = [item for item in response.json()["items"] if item["id"] == run_id]
    return run


async def scalar(db: AsyncSession, statement: str, **params: Any) -> Any:
    value = await db.scalar(text(statement), params)
    await db.commit()  # a fresh snapshot for the next look
    return value


async def members_in_registry(db: AsyncSession) -> int:
    return int(await scalar(db, "SELECT count(*) FROM member WHERE deleted_at IS NULL"))


async def cursor(db: AsyncSession) -> str | None:
    return await scalar(db, "SELECT cursor FROM feed_cursor WHERE stream = 'records'")


async def member_id(db: AsyncSession, member_no: str) -> uuid.UUID:
    found = await scalar(db, "SELECT id FROM member WHERE member_no = :no", no=member_no)
    assert found is not None, member_no
    return uuid.UUID(str(found))
