"""Jobs enqueued during a request are sent to arq only once the request's data is committed.

Otherwise a worker could pick a job up before the rows it needs exist, or run one for a
request that was rolled back.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from arq.connections import ArqRedis
from sqlalchemy.ext.asyncio import AsyncSession

_PENDING_KEY = "wengang.pending_jobs"


@dataclass(frozen=True, slots=True)
class PendingJob:
    name: str
    args: tuple[Any, ...]
    job_id: str | None


def enqueue_after_commit(
    session: AsyncSession, name: str, *args: Any, job_id: str | None = None
) -> None:
    session.info.setdefault(_PENDING_KEY, []).append(PendingJob(name, args, job_id))


async def send_pending_jobs(session: AsyncSession, queue: ArqRedis) -> None:
    pending: list[PendingJob] = session.info.pop(_PENDING_KEY, [])
    for job in pending:
        await queue.enqueue_job(job.name, *job.args, _job_id=job.job_id)
