"""Background jobs of notifications: delivery, asked for after each transaction that wrote
notifications, and a sweep every minute (attempts whose outcome was lost, retries due, and
anything a lost job left behind)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from arq import cron, func

from app.core.config import Settings
from app.notifications.delivery import Deliverer
from app.notifications.outbox import DELIVER_JOB
from app.notifications.templates import load_templates
from app.notifications.wechat_channel import WeChatChannel

logger = logging.getLogger("wengang.notifications")

_STATE = "notifications.delivery"
# How long one delivery job sends before handing the rest to the next: far below the worker's
# job timeout (`WorkerSettings.job_timeout`, 600 s).
JOB_SECONDS = 60.0


@dataclass
class _ProcessDelivery:
    """One delivery loop per worker process: a job arriving while it runs asks it to go round
    once more instead of starting a second loop (and a second set of calls to WeChat)."""

    deliverer: Deliverer
    running: bool = False
    wanted: bool = False


def _delivery(ctx: dict[str, Any]) -> _ProcessDelivery:
    state: _ProcessDelivery | None = ctx.get(_STATE)
    if state is None:
        settings: Settings = ctx["settings"]
        channel = WeChatChannel(settings, ctx["redis"])
        deliverer = Deliverer(settings, ctx["db"], channel, load_templates(settings))
        state = ctx[_STATE] = _ProcessDelivery(deliverer)
        ctx.setdefault("closers", []).append(channel.aclose)
    return state


async def deliver(ctx: dict[str, Any]) -> dict[str, int]:
    """Send what is due. Safe to run twice, or on several workers at once: a row is claimed
    by one of them (SKIP LOCKED), and an attempt is recorded before its call."""
    state = _delivery(ctx)
    state.wanted = True
    if state.running:
        return {"coalesced": 1}
    state.running = True
    totals: dict[str, int] = {}
    more = no_token = False
    try:
        while state.wanted:
            state.wanted = False
            report = await state.deliverer.drain(seconds=JOB_SECONDS)
            for key, value in report.counts.items():
                totals[key] = totals.get(key, 0) + value
            more, no_token = report.more, report.token_unavailable
    finally:
        state.running = False
    if no_token:
        # WeChat gave no access token: nothing was claimed; ask again after a pause (one job
        # for all workers), and the minute's sweep tries too.
        settings: Settings = ctx["settings"]
        await ctx["redis"].enqueue_job(
            DELIVER_JOB,
            _job_id=f"{DELIVER_JOB}:token",
            _defer_by=timedelta(seconds=max(settings.notification_backoff_seconds, 1.0) * 5),
        )
    elif more:
        # A long backlog is drained by a chain of jobs, each well within arq's job timeout:
        # a job cancelled by the timeout would leave its claimed batch `unknown`, never sent.
        await ctx["redis"].enqueue_job(DELIVER_JOB)
    else:
        await _schedule_retry(ctx, state.deliverer)
    return totals


async def _schedule_retry(ctx: dict[str, Any], deliverer: Deliverer) -> None:
    """Retries wait for their backoff: a job deferred to the earliest, one per due time (its
    job id: workers finishing together ask once); the minute's sweep catches anything else."""
    due = await deliverer.next_due()
    if due is None:
        return
    await ctx["redis"].enqueue_job(
        DELIVER_JOB,
        _job_id=f"{DELIVER_JOB}:at:{due.isoformat()}",
        _defer_until=max(due, datetime.now(UTC)),
    )


async def sweep(ctx: dict[str, Any]) -> dict[str, int]:
    """Mark attempts whose outcome was lost `unknown` (never resent), then deliver."""
    lost = await _delivery(ctx).deliverer.sweep()
    if lost:
        logger.warning("notification attempts with a lost outcome", extra={"count": lost})
    return {"unknown": lost, **await deliver(ctx)}


functions = [
    func(deliver, name=DELIVER_JOB),
    func(sweep, name="notifications.sweep"),
]
cron_jobs = [
    cron(sweep, name="notifications.sweep.cron", second={0}, unique=True),
]
