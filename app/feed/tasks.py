"""Background jobs of the feed."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from arq import cron, func

from app.core.config import Settings
from app.core.queue import task_session
from app.feed import pushback
from app.feed.client import FeedClient


def feed_client(ctx: dict[str, Any]) -> FeedClient:
    """The feed's client on the worker's shared HTTP client, as the settings say."""
    settings: Settings = ctx["settings"]
    return FeedClient(
        ctx["http"],
        settings.feed_url,
        settings.feed_token,
        timeout=settings.feed_timeout_seconds,
        max_attempts=settings.feed_max_attempts,
        backoff_base=settings.feed_backoff_seconds,
    )


async def push(ctx: dict[str, Any]) -> dict[str, Any]:
    """Send what coordinators recorded back to the feed (`app.feed.pushback`). Safe to run
    twice, or on several workers at once: batches are built one at a time, and a batch sent
    twice goes under the same key."""
    settings: Settings = ctx["settings"]
    report = await pushback.push_updates(
        lambda: task_session(ctx), feed_client(ctx), batch_size=settings.feed_push_batch_size
    )
    return {
        name: value for name, value in asdict(report).items() if name not in ("keys", "batch_ids")
    }


functions = [func(push, name="feed.push")]
cron_jobs = [
    # 03:30 Shanghai, after the night's pull. A missed night is caught up by the next: every
    # push sends all that is pending.
    cron(push, name="feed.push.cron", hour={3}, minute={30}, unique=True),
]
