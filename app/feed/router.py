"""The feed's endpoints: spreadsheet imports and pulls of the HTTP feed."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Form, Request, UploadFile, status
from pydantic import Field

from app.core.auth import Admin, Manager
from app.core.bodies import RequestBody
from app.core.deps import Pagination, ReadSession, Session
from app.core.errors import problem_responses
from app.core.routing import api_router
from app.feed import imports, sync
from app.feed.errors import EmptyUpload, ImportNotFound, SyncRunNotFound, UnreadableSpreadsheet
from app.feed.schemas import (
    ImportAccepted,
    ImportOut,
    RowErrorPage,
    SyncRunOut,
    SyncRunPage,
)

router = api_router("/feed", tags=["feed"])


class ImportUpload(RequestBody):
    """The multipart form of an upload: one file, nothing else."""

    file: UploadFile = Field(description="The export: xlsx, or csv (UTF-8 or GB18030)")


IMPORTS_PATH = "/api/v1/feed/imports"


@router.post(
    "/imports",
    summary="Upload a registry export to import",
    name="import",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=ImportAccepted,
    responses=problem_responses(UnreadableSpreadsheet, EmptyUpload),
)
async def create_import(
    request: Request,
    caller: Manager,
    session: Session,
    form: Annotated[ImportUpload, Form(media_type="multipart/form-data")],
) -> ImportAccepted:
    """A township or county manager (or an admin) uploads the monitoring system's export
    (xlsx or csv; a title row or two above the header is fine). A worker imports it; follow
    it with `GET /feed/imports/{id}`. Rows outside your region are refused, each listed with
    its row number and reason; importing the same file again changes nothing. The size limit
    is `FEED_IMPORT_MAX_BYTES` (413 beyond it)."""
    return await imports.create_import(
        session,
        caller,
        filename=form.file.filename or "upload",
        upload=form.file.file,
        directory=request.app.state.settings.import_dir,
    )


@router.get(
    "/imports/{import_id}",
    summary="An import's progress, counts and refused rows",
    name="get-import",
    response_model=ImportOut,
    responses=problem_responses(ImportNotFound),
)
async def get_import(import_id: uuid.UUID, caller: Manager, session: ReadSession) -> ImportOut:
    """Rows read, applied (new, changed, deleted), unchanged and refused so far, and the first
    refused rows, each with its spreadsheet row number, column and reason."""
    return await imports.get_import(session, caller, import_id)


@router.get(
    "/imports/{import_id}/errors",
    summary="Every refused row of an import",
    name="list-import-errors",
    response_model=RowErrorPage,
    responses=problem_responses(ImportNotFound),
)
async def list_import_errors(
    import_id: uuid.UUID, caller: Manager, session: ReadSession, page: Pagination
) -> RowErrorPage:
    """Every refused row of an import in file order: row number, column, what was there
    (personal data masked) and why, in words a clerk understands."""
    items, cursor = await imports.list_errors(session, caller, import_id, page)
    return RowErrorPage(items=items, next_cursor=cursor)


@router.post(
    "/sync-runs",
    summary="Pull the monitoring feed now",
    name="create-sync-run",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=SyncRunOut,
)
async def create_sync_run(caller: Admin, session: Session) -> SyncRunOut:
    """Queues a pull from where the last one stopped (the nightly pull runs by itself).
    Follow it in `GET /feed/sync-runs`."""
    return await sync.request_run(session, caller)


@router.get(
    "/sync-runs",
    summary="Pulls of the monitoring feed, newest first",
    name="list-sync-runs",
    response_model=SyncRunPage,
)
async def list_sync_runs(caller: Manager, session: ReadSession, page: Pagination) -> SyncRunPage:
    """Each pull with its counts, time and outcome: `refused` means the feed refused our
    token and an admin must renew `FEED_TOKEN`."""
    items, cursor = await sync.list_runs(session, page)
    return SyncRunPage(items=items, next_cursor=cursor)


@router.get(
    "/sync-runs/{run_id}",
    summary="One pull of the monitoring feed",
    name="get-sync-run",
    response_model=SyncRunOut,
    responses=problem_responses(SyncRunNotFound),
)
async def get_sync_run(run_id: uuid.UUID, caller: Manager, session: ReadSession) -> SyncRunOut:
    """One pull with its counts, pages, time and outcome."""
    return await sync.get_run(session, run_id)
