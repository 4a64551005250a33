"""Background jobs of the feed: pulls (asked for, and nightly), imports, and push-back."""

from __future__ import annotations

import uuid
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any

from arq import cron, func

from app.core.config import Settings, get_settings
from app.core.crypto import PiiCipher
from app.core.periods import SHANGHAI
from app.core.queue import task_session
from app.feed import imports, pushback, sync
from app.feed.client import FeedClient
from app.feed.http_source import HttpFeedSource


def _settings(ctx: dict[str, Any]) -> Settings:
    return ctx.get("settings") or get_settings()


def feed_client(ctx: dict[str, Any]) -> FeedClient:
    """The feed's client on the worker's shared HTTP client, as the settings say."""
    settings = _settings(ctx)
    return FeedClient(
        ctx["http"],
        settings.feed_url,
        settings.feed_token,
        timeout=settings.feed_timeout_seconds,
        max_attempts=settings.feed_max_attempts,
        backoff_base=settings.feed_backoff_seconds,
    )


async def run_sync(ctx: dict[str, Any], run_id: str) -> str:
    """A pull, from the last committed cursor to the feed's end."""
    settings = _settings(ctx)
    source = HttpFeedSource(feed_client(ctx), settings.feed_page_size)
    cipher = PiiCipher.from_settings(settings)
    return await sync.pull(ctx["db"], source, uuid.UUID(run_id), cipher)


async def nightly_sync(ctx: dict[str, Any]) -> str | None:
    """Tonight's pull, by whichever worker claims the night first (a unique row: several
    workers, or a cron fired twice, still pull once)."""
    now = datetime.now(UTC)
    if now.astimezone(SHANGHAI).hour != _settings(ctx).feed_sync_hour:
        return None
    async with task_session(ctx) as session:
        run_id = await sync.claim_nightly(session, now)
    if run_id is None:
        return None
    return await run_sync(ctx, str(run_id))


async def run_import(ctx: dict[str, Any], import_id: str) -> str:
    settings = _settings(ctx)
    return await imports.run_import(
        ctx["db"],
        uuid.UUID(import_id),
        PiiCipher.from_settings(settings),
        settings.feed_import_chunk_rows,
    )


async def push(ctx: dict[str, Any]) -> dict[str, Any]:
    """Send what coordinators recorded back to the feed (`app.feed.pushback`). Safe to run
    twice, or on several workers at once: batches are built one at a time, and a batch sent
    twice goes under the same key."""
    report = await pushback.push_updates(
        lambda: task_session(ctx), feed_client(ctx), batch_size=_settings(ctx).feed_push_batch_size
    )
    return {
        name: value for name, value in asdict(report).items() if name not in ("keys", "batch_ids")
    }


functions = [
    func(run_sync, name=sync.SYNC_JOB),
    func(nightly_sync, name="feed.nightly_sync"),
    func(run_import, name=imports.IMPORT_JOB),
    func(push, name="feed.push"),
]
cron_jobs = [
    # On the hour; the job itself keeps to FEED_SYNC_HOUR (Shanghai), read when it runs.
    cron(nightly_sync, name="feed.nightly_sync.cron", minute={0}, unique=True),
    # 03:30 Shanghai, after the night's pull. A missed night is caught up by the next: every
    # push sends all that is pending.
    cron(push, name="feed.push.cron", hour={3}, minute={30}, unique=True),
]
