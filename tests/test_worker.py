"""A real arq worker (burst mode) against the real Redis and database."""

from __future__ import annotations

import importlib
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4

from arq import func
from arq.jobs import Job, JobStatus
from arq.worker import get_kwargs
from sqlalchemy import func as sql
from sqlalchemy import select

from app.audit import service as audit
from app.audit.models import AuditEvent
from app.auth.models import RefreshToken, Role
from app.core.caller import Principal
from app.core.config import PROJECT_ROOT
from app.core.queue import enqueue_after_commit, task_session
from workers.main import WorkerSettings, worker_options


async def _tokens(db) -> int:
    return await db.scalar(select(sql.count()).select_from(RefreshToken))


async def test_prune_job_runs_on_a_real_worker(run_queued_jobs, make_user, db):
    user = await make_user(Role.admin)
    now = datetime.now(UTC)
    for expires_at in (now - timedelta(days=30), now - timedelta(days=8), now + timedelta(days=1)):
        db.add(
            RefreshToken(
                family_id=uuid4(),
                user_id=user.id,
                token_hash=uuid4().hex,
                created_at=now - timedelta(days=40),
                expires_at=expires_at,
            )
        )
    await db.commit()

    worker = await run_queued_jobs(db, "auth.prune_refresh_tokens")
    assert worker.jobs_complete == 1
    assert worker.jobs_failed == 0
    assert await _tokens(db) == 1


# Jobs of these tests' own, run by the same worker beside the app's: the first writes an audit
# row as the system and asks for the second, which counts that row once it runs.
async def _first(ctx: dict[str, Any], fail: bool = False) -> None:
    async with task_session(ctx) as session:
        audit.record(
            session,
            Principal.system("tests.first").actor,
            action="create",
            entity="probe",
            entity_id=PROBE_ID,
            region_code=None,
        )
        enqueue_after_commit(session, "tests.second", job_id=SECOND_JOB_ID)
        if fail:
            raise RuntimeError("the task fails after asking for a job")


async def _second(ctx: dict[str, Any]) -> int:
    async with task_session(ctx) as session:
        return await session.scalar(
            select(sql.count()).select_from(AuditEvent).where(AuditEvent.entity_id == PROBE_ID)
        )


PROBE_ID = uuid4()
SECOND_JOB_ID = "tests.second.probe"
PROBE_JOBS = [
    func(_first, name="tests.first", max_tries=1),
    func(_second, name="tests.second"),
]


async def test_a_job_enqueued_in_a_task_runs_once_the_task_committed(app, run_queued_jobs, db):
    """`task_session` commits, then sends what the task's services enqueued: the second job
    runs in the same burst and sees the first one's row. The first acted as the system."""
    worker = await run_queued_jobs(db, "tests.first", functions=PROBE_JOBS)
    assert (worker.jobs_complete, worker.jobs_failed) == (2, 0)
    assert await Job(SECOND_JOB_ID, app.state.arq).result(timeout=1) == 1
    event = await db.scalar(select(AuditEvent).where(AuditEvent.entity_id == PROBE_ID))
    assert (event.actor_id, event.actor_role, event.request_id) == (None, "system", "tests.first")


async def test_a_failed_task_sends_nothing_and_keeps_nothing(app, run_queued_jobs, db):
    enqueue_after_commit(db, "tests.first", True)
    worker = await run_queued_jobs(db, functions=PROBE_JOBS)
    assert (worker.jobs_complete, worker.jobs_failed) == (0, 1)
    assert await Job(SECOND_JOB_ID, app.state.arq).status() is JobStatus.not_found
    rows = await db.scalar(
        select(sql.count()).select_from(AuditEvent).where(AuditEvent.entity_id == PROBE_ID)
    )
    assert rows == 0


def test_the_worker_gathers_every_domains_tasks():
    """Each `app/<domain>/tasks.py` brings its `functions` and `cron_jobs`, with nothing to
    list by hand."""
    modules = sorted(path.parent.name for path in (PROJECT_ROOT / "app").glob("*/tasks.py"))
    assert modules  # auth and jobs have jobs today
    expected_functions, expected_crons = [], []
    for name in modules:
        tasks = importlib.import_module(f"app.{name}.tasks")
        expected_functions += [job.name for job in tasks.functions]
        expected_crons += [job.name for job in tasks.cron_jobs]
    assert [job.name for job in WorkerSettings.functions] == expected_functions
    assert [job.name for job in WorkerSettings.cron_jobs] == expected_crons


def test_one_worker_configuration(settings):
    """`wengang worker` and the tests' burst workers run `WorkerSettings` (what the plain
    `arq workers.main.WorkerSettings` reads), changing only where Redis is and what the jobs
    get as settings."""
    options = worker_options(settings)
    own = ("redis_settings", "ctx")
    assert {k: v for k, v in options.items() if k not in own} == {
        k: v for k, v in get_kwargs(WorkerSettings).items() if k not in own
    }
    assert options["job_timeout"] == 600 and options["max_jobs"] == 10
    assert options["ctx"] == {"settings": settings}
