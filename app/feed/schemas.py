"""What the feed's endpoints take and answer."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from app.core.pagination import Page
from app.feed.values import RunStatus, RunTrigger


class Counts(BaseModel):
    """What a pull or an import did, by record (one person)."""

    rows_read: int = Field(description="Rows (records) read from the source")
    new: int = Field(description="Members new to the registry")
    changed: int = Field(description="Members whose household, own fields or months changed")
    unchanged: int = Field(description="Members read exactly as we hold them: nothing written")
    deleted: int = Field(description="Members the feed says left the registry (kept, hidden)")
    rejected: int = Field(description="Rows refused; each is listed with its reason")


class RowErrorOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    line: int = Field(description="The spreadsheet's row number, or the record's place in its page")
    page: int | None = Field(description="The pull's page (from 1); none for an import")
    member_no: str | None
    column: str | None = Field(validation_alias="column_name")
    value: str | None = Field(description="What was there; personal data masked")
    reason: str


class RowErrorPage(Page[RowErrorOut]):
    pass


class SyncRunOut(Counts):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    trigger: RunTrigger
    status: RunStatus
    pages: int
    error: str | None = Field(description="Why the run stopped, when it did not succeed")
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


class SyncRunPage(Page[SyncRunOut]):
    pass


class ImportOut(Counts):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    status: RunStatus
    filename: str
    size_bytes: int
    applied: int = Field(description="new + changed + deleted")
    error: str | None = Field(description="Why the import stopped, when it did not succeed")
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    errors: list[RowErrorOut] = Field(
        description="The first refused rows, in file order (all of them: `/errors`)"
    )


class ImportAccepted(BaseModel):
    id: uuid.UUID
    status: RunStatus
