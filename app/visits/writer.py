"""Writing visits in batches: the uploads waiting at the same moment share one statement.

A visit's statement (`write.RECORD_VISITS`) costs the database far more to start and commit
than to write one more visit, so a process writes visits through a `Batcher`: a few lanes
(`visit_write_lanes`), each writing every upload waiting (up to `visit_write_batch`) in one
statement. Two uploads of the same household or the same visit id never share a statement or
run at once: the second waits for the first, as it would have waited on row locks. A failed
batch's visits are written again one by one, so one bad upload never fails another.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

import asyncpg

from app.core.batching import Batcher
from app.core.db import Database
from app.policy.values import ObservationSource
from app.visits import write

# Runs of a statement that met a concurrent write (`asyncpg.SerializationError`).
_ATTEMPTS = 3


@dataclass(frozen=True, slots=True)
class PendingVisit:
    """One upload as the statement reads it."""

    id: uuid.UUID
    household_id: uuid.UUID
    payload: str  # `{"meta": …, "body": …}`, an element of the statement's JSON array


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
        payload = "[" + ",".join(visit.payload for visit in batch) + "]"
        async with self._database.driver_connection() as connection:
            for attempt in range(1, _ATTEMPTS + 1):
                try:
                    return await connection.fetch(
                        write.RECORD_VISITS,
                        payload,
                        self._review_metres,
                        ObservationSource.visit.value,
                    )
                except asyncpg.SerializationError:
                    # Another process wrote a row of these members after the snapshot (see
                    # `raced` in the statement): nothing was written; now it is visible.
                    if attempt == _ATTEMPTS:
                        raise
        raise AssertionError("unreachable: the last attempt returns or raises")
