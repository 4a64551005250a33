"""Background jobs of the trainings domain."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from arq import cron, func

from app.core.queue import task_session
from app.trainings import reminders


async def remind(ctx: dict[str, Any]) -> int:
    """Tomorrow's sessions, reminded to everyone enrolled; each session once however often
    this runs and on however many workers."""
    async with task_session(ctx) as session:
        return await reminders.remind_tomorrow(session, datetime.now(UTC))


functions = [func(remind, name="trainings.remind")]
cron_jobs = [
    # 18:00 Shanghai: the evening before, when a villager can still plan the day.
    cron(remind, name="trainings.remind.cron", hour={18}, minute={0}, unique=True),
]
