"""One batch of a source (a pull's page, an import's chunk) applied with its refused rows, in
the caller's transaction: what both the pull and the import do per batch."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

import asyncpg

from app.core.caller import Actor
from app.core.crypto import PiiCipher
from app.core.scope import Scope
from app.feed.apply import Applied, apply_records
from app.feed.records import Batch, RowError

_ERROR_COLUMNS = (
    "id", "import_id", "sync_run_id", "page", "line", "member_no", "column_name", "value",
    "reason",
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class Origin:
    """Where refused rows are filed: an import, or a pull's page."""

    import_id: uuid.UUID | None = None
    sync_run_id: uuid.UUID | None = None
    page: int | None = None


async def apply_batch(
    connection: asyncpg.Connection,
    batch: Batch,
    *,
    cipher: PiiCipher,
    actor: Actor,
    scope: Scope,
    origin: Origin,
) -> Applied:
    applied = await apply_records(
        connection, batch.records, cipher=cipher, actor=actor, scope=scope
    )
    errors = [*batch.errors, *applied.errors]
    members = {r.line: r.member_no for r in batch.records}
    if errors:
        await connection.copy_records_to_table(
            "feed_row_error",
            columns=_ERROR_COLUMNS,
            records=[_error_row(e, origin, members.get(e.line)) for e in errors],
        )
    applied.rows_read = batch.rows_read
    applied.rejected += len({e.line for e in batch.errors})
    applied.errors = errors
    return applied


def _error_row(error: RowError, origin: Origin, member_no: str | None) -> tuple[object, ...]:
    # Values longer than the column are cut with a mark: a clerk needs the start of it.
    value = (
        error.value if error.value is None or len(error.value) <= 128 else error.value[:127] + "…"
    )
    return (
        uuid.uuid4(), origin.import_id, origin.sync_run_id, origin.page, error.line, member_no,
        (error.column or "")[:64] or None, value, error.reason,
    )  # fmt: skip


async def read_ahead(batches: AsyncIterator[Batch]) -> AsyncIterator[Batch]:
    """`batches`, with the next one read while the caller applies the current one: a
    spreadsheet's next chunk is parsed (in the reader's thread) and the feed's next page is
    fetched while the database takes this one. A batch read ahead and never applied costs
    nothing: where the source stands is committed only with a batch applied."""
    pending: asyncio.Task[Batch] | None = asyncio.ensure_future(anext(batches))
    try:
        while pending is not None:
            try:
                batch = await pending
            except StopAsyncIteration:
                return
            pending = asyncio.ensure_future(anext(batches)) if batch.has_more else None
            yield batch
    finally:
        if pending is not None and not pending.done():
            pending.cancel()
            with contextlib.suppress(asyncio.CancelledError, StopAsyncIteration):
                await pending
        aclose = getattr(batches, "aclose", None)
        if aclose is not None:
            await aclose()
