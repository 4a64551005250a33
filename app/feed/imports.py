"""Spreadsheet imports: an upload is stored as it streams in, then a worker imports it a
chunk at a time, each chunk in one transaction with the import's progress (`next_line`), so
a worker that dies mid-file is followed by one that carries on from the last chunk
committed. Rows outside the uploader's region are refused; the rest follows the pull's path
(`app.feed.batches`)."""

from __future__ import annotations

import os
import shutil
import uuid
from pathlib import Path
from typing import BinaryIO

from anyio import to_thread
from sqlalchemy import Select, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.caller import Principal
from app.core.crypto import PiiCipher
from app.core.db import Database
from app.core.pagination import PageRequest, keyset, keyset_key, next_cursor
from app.core.queue import enqueue_after_commit
from app.core.scope import Scope
from app.feed.apply import RegistryStatistics
from app.feed.batches import Origin, apply_batch, read_ahead
from app.feed.checks import refresh_findings
from app.feed.errors import EmptyUpload, ImportNotFound, UnreadableSpreadsheet
from app.feed.models import FeedImport, FeedRowError
from app.feed.schemas import ImportAccepted, ImportOut, RowErrorOut
from app.feed.values import RunStatus

IMPORT_JOB = "feed.import"
SUFFIXES = (".xlsx", ".csv")
# Errors shown with the import itself; the rest are paged (`list_errors`).
ERRORS_SHOWN = 100


def _store(upload: BinaryIO, target: Path) -> int:
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(target.suffix + ".part")
    with partial.open("wb") as out:
        shutil.copyfileobj(upload, out, 1024 * 1024)
        size = out.tell()
    os.replace(partial, target)
    return size


async def create_import(
    session: AsyncSession,
    caller: Principal,
    *,
    filename: str,
    upload: BinaryIO,
    directory: Path,
) -> ImportAccepted:
    """Stores the upload under `directory` and queues its import, within the caller's region."""
    suffix = Path(filename).suffix.lower()
    if len(filename) > 255:
        raise UnreadableSpreadsheet("文件名不得超过 255 个字符")
    if suffix not in SUFFIXES:
        raise UnreadableSpreadsheet("请上传 xlsx 或 csv 文件")
    import_id = uuid.uuid4()
    path = directory / f"{import_id}{suffix}"
    size = await to_thread.run_sync(_store, upload, path)
    if size == 0:
        path.unlink(missing_ok=True)
        raise EmptyUpload()
    scope = caller.scope
    row = FeedImport(
        id=import_id,
        filename=filename,
        path=str(path),
        size_bytes=size,
        # A manager's region; none for an admin (everywhere).
        region_code=scope.region_codes[0] if scope.region_codes else None,
        created_by=caller.id,
        status=RunStatus.queued,
    )
    session.add(row)
    await session.flush()
    enqueue_after_commit(session, IMPORT_JOB, str(import_id))
    return ImportAccepted(id=import_id, status=RunStatus.queued)


def _visible(caller: Principal) -> Select[tuple[FeedImport]]:
    """An import is seen by whoever made it, and by anyone whose region holds its region."""
    scope = caller.scope
    statement = select(FeedImport)
    if scope.region_codes:
        statement = statement.where(
            (FeedImport.created_by == caller.id)
            | scope.region_filter(func.coalesce(FeedImport.region_code, ""))
        )
    return statement


async def get_import(session: AsyncSession, caller: Principal, import_id: uuid.UUID) -> ImportOut:
    row = await session.scalar(_visible(caller).where(FeedImport.id == import_id))
    if row is None:
        raise ImportNotFound()
    errors = (
        await session.scalars(
            select(FeedRowError)
            .where(FeedRowError.import_id == import_id)
            .order_by(FeedRowError.line, FeedRowError.id)
            .limit(ERRORS_SHOWN)
        )
    ).all()
    return ImportOut.model_validate(
        {
            **{c: getattr(row, c) for c in ImportOut.model_fields if hasattr(row, c)},
            "applied": row.new + row.changed + row.deleted,
            "errors": [RowErrorOut.model_validate(e) for e in errors],
        }
    )


async def list_errors(
    session: AsyncSession, caller: Principal, import_id: uuid.UUID, page: PageRequest
) -> tuple[list[RowErrorOut], str | None]:
    if await session.scalar(_visible(caller).where(FeedImport.id == import_id)) is None:
        raise ImportNotFound()
    statement = keyset(
        select(FeedRowError).where(FeedRowError.import_id == import_id),
        (FeedRowError.line, FeedRowError.id),
        (int, uuid.UUID),
        page,
        descending=False,
    )
    rows = list((await session.scalars(statement)).all())
    rows, cursor = next_cursor(rows, page.limit, lambda e: keyset_key(e.line, e.id))
    return [RowErrorOut.model_validate(e) for e in rows], cursor


async def run_import(
    database: Database, import_id: uuid.UUID, cipher: PiiCipher, chunk_rows: int
) -> str:
    """Imports the file of `import_id` from where it stands; answers the final status. Safe
    to run twice: a finished import is left as it is."""
    from app.feed.spreadsheet import SpreadsheetRefused, SpreadsheetSource

    async with database.sessionmaker() as session, session.begin():
        row = await session.get(FeedImport, import_id, with_for_update=True)
        if row is None or row.status in (RunStatus.succeeded, RunStatus.failed):
            return row.status if row else RunStatus.failed
        row.status, row.started_at = RunStatus.running, row.started_at or func.now()
        path, region = Path(row.path), row.region_code
    scope = Scope.of_regions([region]) if region else Scope.everything()
    actor = Principal.system(f"{IMPORT_JOB}:{import_id}").actor
    source = SpreadsheetSource(path, chunk_rows=chunk_rows)
    statistics = RegistryStatistics()
    status, error = RunStatus.succeeded, None
    line = 1
    async with database.driver_connection() as connection:
        # One worker per import: a second one (arq runs a job at least once) leaves it be.
        lock = import_id.int >> 65  # within a bigint
        if not await connection.fetchval("SELECT pg_try_advisory_lock($1)", lock):
            return RunStatus.running
        try:
            # Where it stands now that no other worker can move it.
            standing = await connection.fetchrow(
                "SELECT status, next_line FROM feed_import WHERE id = $1", import_id
            )
            if standing["status"] != RunStatus.running:
                return str(standing["status"])
            line = standing["next_line"]
            async for batch in read_ahead(source.batches(str(line))):
                async with connection.transaction():
                    applied = await apply_batch(
                        connection, batch, cipher=cipher, actor=actor, scope=scope,
                        origin=Origin(import_id=import_id),
                    )  # fmt: skip
                    line = int(batch.position) if batch.position else line + batch.rows_read
                    await connection.execute(
                        """UPDATE feed_import SET rows_read = rows_read + $2, new = new + $3,
                            changed = changed + $4, unchanged = unchanged + $5,
                            deleted = deleted + $6, rejected = rejected + $7, next_line = $8
                        WHERE id = $1""",
                        import_id, applied.rows_read, applied.new, applied.changed,
                        applied.unchanged, applied.deleted, applied.rejected, line,
                    )  # fmt: skip
                await statistics.after(connection, applied)
        except SpreadsheetRefused as unreadable:
            status, error = RunStatus.failed, unreadable.reason
        finally:
            await connection.execute("SELECT pg_advisory_unlock($1)", lock)
    async with database.sessionmaker() as session, session.begin():
        if status == RunStatus.succeeded:
            # The county's checks over what the file changed, before anyone reads the result.
            await refresh_findings(session, region, cipher=cipher)
        await session.execute(
            update(FeedImport)
            .where(FeedImport.id == import_id)
            .values(status=status, error=error, finished_at=func.now())
        )
    return status
