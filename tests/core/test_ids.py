"""Time-ordered ids: the same layout from Python and from the database."""

from __future__ import annotations

import time
import uuid

from sqlalchemy import text

from app.core.ids import uuid7


def _milliseconds(value: uuid.UUID) -> int:
    return value.int >> 80


def test_python_ids_are_version_7_and_start_with_the_time() -> None:
    before = time.time_ns() // 1_000_000
    made = [uuid7() for _ in range(1000)]
    after = time.time_ns() // 1_000_000
    assert {m.version for m in made} == {7}
    assert {m.variant for m in made} == {uuid.RFC_4122}
    assert all(before <= _milliseconds(m) <= after for m in made)
    assert len(set(made)) == len(made)


def test_ids_of_later_milliseconds_sort_after_earlier_ones() -> None:
    first = uuid7()
    time.sleep(0.002)
    assert uuid7() > first
    assert str(uuid7()) > str(first)  # as text, too: what clients sort


async def test_the_database_makes_the_same_layout(db) -> None:
    before = time.time_ns() // 1_000_000
    made = [
        uuid.UUID(str(v))
        for v in await db.scalars(text("SELECT uuid_v7() FROM generate_series(1, 1000)"))
    ]
    after = time.time_ns() // 1_000_000
    assert {m.version for m in made} == {7}
    assert {m.variant for m in made} == {uuid.RFC_4122}
    # The database's clock is this machine's: allow the round trip's few milliseconds.
    assert all(before - 5 <= _milliseconds(m) <= after + 5 for m in made)
    assert len(set(made)) == len(made)
