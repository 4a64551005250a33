"""Background jobs of the alerts: a run (asked for or scheduled), and the daily schedule."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from arq import cron, func

from app.alerts import runs
from app.core.queue import enqueue_after_commit, task_session

SCHEDULE_JOB = "alerts.schedule"


async def run(ctx: dict[str, Any], run_id: str) -> str:
    """One run, to its end (`app.alerts.runs.execute`)."""
    return await runs.execute(ctx["db"], ctx["redis"], uuid.UUID(run_id))


async def schedule(ctx: dict[str, Any]) -> int:
    """This month's run of every county whose run day has come and that has none yet: the
    claim is a unique row per (county, period), so several workers, or the cron fired twice,
    still run each county once a month. Each claimed run is its own job (workers share them
    out); answers how many were claimed."""
    async with task_session(ctx) as session:
        claimed = await runs.claim_scheduled(session, datetime.now(UTC))
        for run_id in claimed:
            enqueue_after_commit(session, runs.RUN_JOB, str(run_id))
    return len(claimed)


functions = [
    func(run, name=runs.RUN_JOB),
    func(schedule, name=SCHEDULE_JOB),
]
cron_jobs = [
    # 04:00 Shanghai: after the nightly feed pull (02:00) and push-back (03:30) have settled
    # the month's statuses.
    cron(schedule, name="alerts.schedule.cron", hour={4}, minute={0}, unique=True),
]
