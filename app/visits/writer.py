"""Writing visits in batches: the uploads waiting at the same moment share one statement.

A visit's statement (`write.RECORD_VISITS`) costs the database far more to start and commit
than to write one more visit, and concurrent statements on a small machine mostly compete for
its cores. So a process writes visits through a few lanes (`visit_write_lanes`): an upload
arriving while every lane is busy waits for the next free lane, which takes every waiting
upload (up to `visit_write_batch`) into one statement. When uploads trickle in, each is written
at once, alone; under a burst, the queue is drained in batches. docs/benchmarks.md has the
figures.

Two uploads of the same household (or the same visit id) never share a batch or run in two
lanes at once: the second waits for the first, as two statements would have waited on row
locks. If a batch's statement fails, each of its visits is written again on its own, so the
error reaches only the upload that caused it.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field

import asyncpg

from app.core.db import Database
from app.policy.values import ObservationSource
from app.visits import write

log = logging.getLogger(__name__)


@dataclass(slots=True)
class PendingVisit:
    """One upload as the statement reads it, and where its answer goes."""

    id: uuid.UUID
    household_id: uuid.UUID
    payload: str  # `{"meta": …, "body": …}`, an element of the statement's JSON array
    answer: asyncio.Future[asyncpg.Record] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )


class VisitWriter:
    def __init__(self, database: Database, *, lanes: int, batch: int, review_metres: float):
        self._database = database
        self._lanes = max(1, lanes)
        self._batch = max(1, batch)
        self._review_metres = review_metres
        self._waiting: deque[PendingVisit] = deque()
        self._busy_lanes = 0
        # Households and visit ids in a statement now: their next upload waits for it.
        self._in_flight: set[uuid.UUID] = set()
        self._tasks: set[asyncio.Task[None]] = set()

    async def write(self, visit: PendingVisit) -> asyncpg.Record:
        """The statement's answer row for this visit, once written."""
        # Retrieved when nobody awaits it any more (the client went away), so that an error is
        # not reported as never retrieved.
        visit.answer.add_done_callback(lambda answer: answer.cancelled() or answer.exception())
        self._waiting.append(visit)
        if self._busy_lanes < self._lanes:
            self._busy_lanes += 1
            task = asyncio.create_task(self._drain())
            self._tasks.add(task)  # held: the loop keeps only weak references to tasks
            task.add_done_callback(self._tasks.discard)
        # Shielded: an upload whose client went away is still written (a phone retries with
        # the same id and gets the stored visit), and the batch's other uploads are unaffected.
        return await asyncio.shield(visit.answer)

    async def _drain(self) -> None:
        try:
            while batch := self._take():
                try:
                    await self._write_batch(batch)
                finally:
                    for visit in batch:
                        self._in_flight.discard(visit.household_id)
                        self._in_flight.discard(visit.id)
        finally:
            self._busy_lanes -= 1

    def _take(self) -> list[PendingVisit]:
        """The waiting uploads this lane writes next: in arrival order, skipping those whose
        household or id is already in a statement (they stay first in line)."""
        batch: list[PendingVisit] = []
        skipped: list[PendingVisit] = []
        while self._waiting and len(batch) < self._batch:
            visit = self._waiting.popleft()
            if visit.household_id in self._in_flight or visit.id in self._in_flight:
                skipped.append(visit)
                continue
            self._in_flight.update((visit.household_id, visit.id))
            batch.append(visit)
        self._waiting.extendleft(reversed(skipped))
        return batch

    async def _write_batch(self, batch: Sequence[PendingVisit]) -> None:
        try:
            rows = await self._run(batch)
        except Exception as error:
            if len(batch) == 1:
                _settle(batch[0], error=error)
                return
            log.warning("a batch of %d visits failed (%s); writing each alone", len(batch), error)
            for visit in batch:
                try:
                    (row,) = await self._run([visit])
                except Exception as own_error:
                    _settle(visit, error=own_error)
                else:
                    _settle(visit, row=row)
            return
        for visit, row in zip(batch, rows, strict=True):
            _settle(visit, row=row)

    async def _run(self, batch: Sequence[PendingVisit]) -> list[asyncpg.Record]:
        payload = "[" + ",".join(visit.payload for visit in batch) + "]"
        async with self._database.driver_connection() as connection:
            rows = await connection.fetch(
                write.RECORD_VISITS, payload, self._review_metres, ObservationSource.visit.value
            )
            # A visit found neither new nor stored: a concurrent upload of its id (from another
            # process) committed after the statement took its snapshot. Its row is read now.
            return [
                row
                if row["id"] is not None or not row["household_found"] or row["strangers"]
                else await connection.fetchrow(write.STORED_VISIT, visit.id)
                for visit, row in zip(batch, rows, strict=True)
            ]


def _settle(
    visit: PendingVisit, *, row: asyncpg.Record | None = None, error: BaseException | None = None
) -> None:
    if visit.answer.done():
        return
    if error is not None:
        visit.answer.set_exception(error)
    else:
        visit.answer.set_result(row)  # type: ignore[arg-type]
