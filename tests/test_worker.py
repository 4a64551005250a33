"""A real arq worker (burst mode) against the real Redis and database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import uuid4

from arq.worker import Worker
from sqlalchemy import func, select

from app.auth.models import RefreshToken, Role
from app.core.queue import enqueue_after_commit, send_pending_jobs
from workers.main import worker_options


async def _tokens(db) -> int:
    return await db.scalar(select(func.count()).select_from(RefreshToken))


async def test_prune_job_runs_on_a_real_worker(app, settings, make_user, db):
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

    # Enqueued through the same after-commit path requests use.
    enqueue_after_commit(db, "auth.prune_refresh_tokens")
    await db.commit()
    await send_pending_jobs(db, app.state.arq)

    worker = Worker(**{**worker_options(settings), "burst": True, "poll_delay": 0.05})
    try:
        await worker.main()
    finally:
        await worker.close()
    assert worker.jobs_complete == 1
    assert worker.jobs_failed == 0
    assert await _tokens(db) == 1
