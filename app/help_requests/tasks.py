"""Background jobs of help requests."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from arq import cron, func

from app.core.caller import Principal
from app.core.queue import task_session
from app.help_requests import deadlines


async def run_deadlines(ctx: dict[str, Any]) -> int:
    """Flag and escalate requests by their deadlines: the steps taken now. Safe to run twice,
    or on several workers at once: each step is taken once (`app.help_requests.deadlines`)."""
    async with task_session(ctx) as session:
        run = await deadlines.run_deadlines(
            session, Principal.system("help_requests.run_deadlines"), datetime.now(UTC)
        )
    return run.steps


functions = [func(run_deadlines, name="help_requests.run_deadlines")]
cron_jobs = [
    # Every five minutes: a step is late by at most that much.
    cron(
        run_deadlines,
        name="help_requests.run_deadlines.cron",
        minute=set(range(0, 60, 5)),
        unique=True,
    ),
]
