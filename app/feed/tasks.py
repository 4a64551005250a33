"""Background jobs of the feed: pulls (asked for, and nightly) and imports."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from arq import cron, func

from app.core.config import Settings, get_settings
from app.core.crypto import PiiCipher
from app.core.periods import SHANGHAI
from app.core.queue import task_session
from app.feed import imports, sync


def _settings(ctx: dict[str, Any]) -> Settings:
    return ctx.get("settings") or get_settings()


def _source(ctx: dict[str, Any]) -> Any:
    from app.feed.client import FeedClient
    from app.feed.http_source import HttpFeedSource

    settings = _settings(ctx)
    client = FeedClient(
        ctx["http"],
        settings.feed_url,
        settings.feed_token,
        timeout=settings.feed_timeout_seconds,
    )
    return HttpFeedSource(client, settings.feed_page_size)


async def run_sync(ctx: dict[str, Any], run_id: str) -> str:
    """A pull, from the last committed cursor to the feed's end."""
    cipher = PiiCipher.from_settings(_settings(ctx))
    return await sync.pull(ctx["db"], _source(ctx), uuid.UUID(run_id), cipher)


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


functions = [
    func(run_sync, name=sync.SYNC_JOB),
    func(nightly_sync, name="feed.nightly_sync"),
    func(run_import, name=imports.IMPORT_JOB),
]
cron_jobs = [
    # On the hour; the job itself keeps to FEED_SYNC_HOUR (Shanghai), read when it runs.
    cron(nightly_sync, name="feed.nightly_sync.cron", minute={0}, unique=True),
]
