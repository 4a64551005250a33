"""Jobs are sent to arq only once the data of the transaction that asked for them is committed.

Otherwise a worker could pick a job up before the rows it needs exist, or run one for a
transaction that was rolled back. Services call `enqueue_after_commit`; whoever owns the
transaction sends what was asked once it has committed: the request's session
(`app.core.deps.get_session`) and a job's (`task_session`), through the same `send_pending_jobs`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from arq.connections import ArqRedis
from sqlalchemy.ext.asyncio import AsyncSession

if TYPE_CHECKING:
    from app.core.db import Database

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


@asynccontextmanager
async def task_session(ctx: dict[str, Any]) -> AsyncIterator[AsyncSession]:
    """A job's session, as a request has one: committed when the block ends, and then the jobs
    its services enqueued are sent; rolled back (and nothing sent) when the block raises.

        async with task_session(ctx) as session:
            await service.do(session, Principal.system("domain.verb"), …)
    """
    database: Database = ctx["db"]
    async with database.sessionmaker() as session:
        try:
            yield session
        except BaseException:
            await session.rollback()
            raise
        await session.commit()
        await send_pending_jobs(session, ctx["redis"])
