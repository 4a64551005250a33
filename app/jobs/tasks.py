"""Background jobs of the jobs domain."""

from __future__ import annotations

from typing import Any

from arq import cron, func

from app.core.caller import Principal
from app.core.queue import task_session
from app.jobs import service


async def close_expired(ctx: dict[str, Any]) -> int:
    """Close open jobs past their last valid day (Asia/Shanghai), in one UPDATE. Safe to run
    twice, or on several workers at once: a second run finds nothing left open to close."""
    async with task_session(ctx) as session:
        return await service.close_expired(session, Principal.system("jobs.close_expired"))


functions = [func(close_expired, name="jobs.close_expired")]
cron_jobs = [
    # 00:05 Shanghai (the worker evaluates crons in Shanghai time). Until it runs, matching and
    # pushes already ignore expired jobs, so running late costs nothing but a stale `status`.
    cron(close_expired, name="jobs.close_expired.cron", hour={0}, minute={5}, unique=True),
]
