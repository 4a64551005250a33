"""The arq worker: `wengang worker` (or `arq workers.main.WorkerSettings`).

Jobs take ids, open their own sessions and call the same services as the API.
"""

from __future__ import annotations

from typing import Any, ClassVar

import httpx
from arq.connections import RedisSettings

from app.auth import tasks as auth_tasks
from app.core.config import Settings, get_settings
from app.core.db import Database
from app.core.logging import configure_logging
from app.core.periods import SHANGHAI
from app.core.redis import redis_settings
from app.jobs import tasks as jobs_tasks

FUNCTIONS = [*auth_tasks.functions, *jobs_tasks.functions]
CRON_JOBS = [*auth_tasks.cron_jobs, *jobs_tasks.cron_jobs]


async def startup(ctx: dict[str, Any]) -> None:
    settings: Settings = ctx.get("settings") or get_settings()
    ctx["settings"] = settings
    ctx["db"] = Database(settings)
    ctx["http"] = httpx.AsyncClient(timeout=httpx.Timeout(30.0))


async def shutdown(ctx: dict[str, Any]) -> None:
    await ctx["http"].aclose()
    await ctx["db"].dispose()


def worker_options(settings: Settings) -> dict[str, Any]:
    """Everything a `Worker` needs, for `wengang worker` and for tests' burst workers."""
    return {
        "functions": FUNCTIONS,
        "cron_jobs": CRON_JOBS,
        "on_startup": startup,
        "on_shutdown": shutdown,
        "redis_settings": redis_settings(settings),
        "ctx": {"settings": settings},
        "max_jobs": 10,
        "job_timeout": 600,
        "keep_result": 3600,
        # Cron times are Shanghai times, like every day and month the policy counts.
        "timezone": SHANGHAI,
    }


class WorkerSettings:
    """For the plain `arq` command line; reads settings from the environment."""

    functions: ClassVar[list[Any]] = FUNCTIONS
    cron_jobs: ClassVar[list[Any]] = CRON_JOBS
    on_startup = staticmethod(startup)
    on_shutdown = staticmethod(shutdown)
    timezone = SHANGHAI
    redis_settings: RedisSettings = (
        redis_settings(get_settings()) if get_settings().redis_url else RedisSettings()
    )


def run() -> None:
    from arq.worker import run_worker

    settings = get_settings()
    configure_logging(settings.log_level, settings.log_format)
    options = worker_options(settings)
    run_worker(WorkerSettings, **options)  # type: ignore[arg-type]
