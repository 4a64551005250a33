"""Writing visits in batches: the uploads waiting at the same moment share one statement.

A visit's statement (`write.RECORD_VISITS`: the visits, and what they found about members by
the member writer's statements set in it) costs the database far more to start and commit
than to write one more visit, so a process writes visits through a `Batcher`: a few lanes
(`visit_write_lanes`), each writing every upload waiting (up to `visit_write_batch`) in one
statement. Two uploads of the same household or the same visit id never share a batch or run
at once: the second waits for the first, as it would have waited on row locks. A failed batch's
visits are written again one by one, so one bad upload never fails another.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

import asyncpg

from app.core.batching import Batcher
from app.core.db import Database
from app.households import writer as members
from app.visits import write


@dataclass(frozen=True, slots=True)
class PendingVisit:
    """One upload: the visit as the statement reads it, and what it found about members."""

    id: uuid.UUID
    household_id: uuid.UUID
    request_hash: str  # of the body as sent: the same id with another body is a conflict
    payload: str  # `{"meta": …, "body": …}`, an element of the statement's JSON array
    employment: tuple[members.EmploymentWrite, ...] = ()
    intents: tuple[members.IntentWrite, ...] = ()


class VisitWriter:
    def __init__(self, database: Database, *, lanes: int, batch: int, review_metres: float):
        self._database = database
        self._review_metres = review_metres
        self.batcher: Batcher[PendingVisit, asyncpg.Record] = Batcher(
            self._run,
            name="visits",
            lanes=lanes,
            batch=batch,
            keys=lambda visit: (visit.household_id, visit.id),
        )

    async def write(self, visit: PendingVisit) -> asyncpg.Record:
        """The statement's answer row for this visit, once written."""
        return await self.batcher.submit(visit)

    async def stored(self, visit_id: uuid.UUID) -> asyncpg.Record:
        """The visit a concurrent upload of this id stored (from another process): committed
        after the statement took its snapshot, so the statement found it neither new nor
        stored. Read apart from the batch: the batch has committed, whatever happens here."""
        async with self._database.driver_connection() as connection:
            row = await connection.fetchrow(write.STORED_VISIT, visit_id)
        assert row is not None  # it conflicted with the statement's insert: it exists
        return row

    async def _run(self, batch: Sequence[PendingVisit]) -> list[asyncpg.Record]:
        async with self._database.driver_connection() as connection:
            return await write_visits(connection, batch, self._review_metres)


# Runs of a batch's statement that met a member's row written concurrently: the next run sees
# it, so a third is needed only when yet another write came in between.
_ATTEMPTS = 3


async def write_visits(
    connection: asyncpg.Connection, batch: Sequence[PendingVisit], review_metres: float
) -> list[asyncpg.Record]:
    """Writes a batch on `connection` (in the caller's transaction, if any, within a
    savepoint): the answer row of each visit, in order."""
    employment = [(row, visit.id) for visit in batch for row in visit.employment]
    intents = [(row, visit.id) for visit in batch for row in visit.intents]
    arguments = (
        "[" + ",".join(visit.payload for visit in batch) + "]",
        review_metres,
        [members.EMPLOYMENT.record(row) for row, _ in employment],
        [visit_id for _, visit_id in employment],
        [members.INTENT.record(row) for row, _ in intents],
        [visit_id for _, visit_id in intents],
    )
    for attempt in range(1, _ATTEMPTS + 1):
        try:
            if not connection.is_in_transaction():
                return await connection.fetch(write.RECORD_VISITS, *arguments)
            async with connection.transaction():  # a savepoint: a failed run leaves no trace
                return await connection.fetch(write.RECORD_VISITS, *arguments)
        except asyncpg.SerializationError:
            # A member's row was inserted by another transaction after the statement's
            # snapshot: nothing was written, and the next run sees the row.
            if attempt == _ATTEMPTS:
                raise
    raise AssertionError("unreachable: the last attempt returns or raises")
