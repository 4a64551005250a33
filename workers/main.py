"""The arq worker: `wengang worker`, or `arq workers.main.WorkerSettings`.

Every domain's jobs are in its `app/<domain>/tasks.py`, which exports `functions` and
`cron_jobs`; they are gathered here, so a new domain's jobs need no line in this file. Jobs take
ids, open their session with `app.core.queue.task_session` and call the same services as the
API, as the system (`Principal.system`).
"""

from __future__ import annotations

import importlib.util
import pkgutil
from typing import Any, ClassVar

import httpx
from arq.connections import RedisSettings
from arq.cron import CronJob
from arq.worker import Function, get_kwargs

import app
from app.core.config import Settings, get_settings
from app.core.db import Database
from app.core.logging import configure_logging
from app.core.periods import SHANGHAI
from app.core.redis import redis_settings


def gather_tasks() -> tuple[list[Function], list[CronJob]]:
    """`functions` and `cron_jobs` of every `app/<domain>/tasks.py`, domains in name order."""
    functions: list[Function] = []
    cron_jobs: list[CronJob] = []
    for package in pkgutil.iter_modules(app.__path__):
        if not package.ispkg:
            continue
        name = f"app.{package.name}.tasks"
        if importlib.util.find_spec(name) is None:
            continue
        tasks = importlib.import_module(name)
        functions += tasks.functions
        cron_jobs += tasks.cron_jobs
    return functions, cron_jobs


async def startup(ctx: dict[str, Any]) -> None:
    settings: Settings = ctx.get("settings") or get_settings()
    ctx["settings"] = settings
    ctx["db"] = Database(settings)
    ctx["http"] = httpx.AsyncClient(timeout=httpx.Timeout(30.0))


async def shutdown(ctx: dict[str, Any]) -> None:
    # What jobs opened for the life of the process (a channel's HTTP pools).
    for close in ctx.get("closers", []):
        await close()
    await ctx["http"].aclose()
    await ctx["db"].dispose()


FUNCTIONS, CRON_JOBS = gather_tasks()


class WorkerSettings:
    """The worker's one configuration. The plain `arq` command reads it as it is (Redis from
    the environment); `wengang worker` and the tests' burst workers run it with their own
    settings (`worker_options`)."""

    functions: ClassVar[list[Function]] = FUNCTIONS
    cron_jobs: ClassVar[list[CronJob]] = CRON_JOBS
    on_startup = startup
    on_shutdown = shutdown
    max_jobs = 10
    job_timeout = 600
    keep_result = 3600
    # Cron times are Shanghai times, like every day and month the policy counts.
    timezone = SHANGHAI
    redis_settings: RedisSettings = (
        redis_settings(get_settings()) if get_settings().redis_url else RedisSettings()
    )


def worker_options(settings: Settings, **overrides: Any) -> dict[str, Any]:
    """`WorkerSettings` as `arq.Worker` arguments, on `settings`' Redis and with `settings`
    handed to the jobs; `overrides` (e.g. `burst=True`) last."""
    return {
        **get_kwargs(WorkerSettings),
        "redis_settings": redis_settings(settings),
        "ctx": {"settings": settings},
        **overrides,
    }


def run() -> None:
    from arq.worker import run_worker

    settings = get_settings()
    configure_logging(settings.log_level, settings.log_format)
    run_worker(worker_options(settings))  # type: ignore[arg-type]
