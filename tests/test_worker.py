"""A real arq worker (burst mode) against the real Redis and database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import uuid4

from sqlalchemy import func, select

from app.auth.models import RefreshToken, Role


async def _tokens(db) -> int:
    return await db.scalar(select(func.count()).select_from(RefreshToken))


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
