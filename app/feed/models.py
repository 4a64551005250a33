"""The feed's own rows: where the pull stands, each pull and import with its counts, the rows
refused, the disagreements to resolve, and each county's precedence rule."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import CheckConstraint, ForeignKey, Index, LargeBinary, String, Text, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from app.core.db import Base, UUIDPrimaryKey, one_of
from app.feed.values import (
    ConflictKind,
    ConflictResolution,
    ConflictStatus,
    Precedence,
    PushItemStatus,
    PushStatus,
    RunStatus,
    RunTrigger,
)


class FeedCursor(Base):
    """Where the pull of one stream stands: written in the transaction of the page it ends."""

    __tablename__ = "feed_cursor"

    stream: Mapped[str] = mapped_column(String(32), primary_key=True)
    cursor: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(server_default=text("now()"))


class _Counts:
    """What a pull or an import did to the registry, by person (record)."""

    rows_read: Mapped[int] = mapped_column(server_default=text("0"))
    new: Mapped[int] = mapped_column(server_default=text("0"))
    changed: Mapped[int] = mapped_column(server_default=text("0"))
    unchanged: Mapped[int] = mapped_column(server_default=text("0"))
    deleted: Mapped[int] = mapped_column(server_default=text("0"))
    rejected: Mapped[int] = mapped_column(server_default=text("0"))


class FeedSyncRun(UUIDPrimaryKey, _Counts, Base):
    """One pull from the HTTP feed, nightly (one a night: `night` is unique) or on demand."""

    __tablename__ = "feed_sync_run"
    __table_args__ = (
        CheckConstraint(one_of("trigger", RunTrigger), name="trigger_known"),
        CheckConstraint(one_of("status", RunStatus), name="status_known"),
        CheckConstraint("(trigger = 'cron') = (night IS NOT NULL)", name="night_of_cron"),
        Index("ix_feed_sync_run_created_at", "created_at"),
    )

    trigger: Mapped[str] = mapped_column(String(8))
    # The Shanghai date of a nightly run: one row a night, whichever worker gets there first.
    night: Mapped[date | None] = mapped_column(unique=True)
    status: Mapped[str] = mapped_column(String(16))
    requested_by: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL")
    )
    pages: Mapped[int] = mapped_column(server_default=text("0"))
    cursor_from: Mapped[str | None] = mapped_column(Text)
    cursor_to: Mapped[str | None] = mapped_column(Text)
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(server_default=text("now()"))
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]


class FeedImport(UUIDPrimaryKey, _Counts, Base):
    """One uploaded spreadsheet, imported in chunks by a worker; `next_line` is where a
    worker that stopped picks it up again."""

    __tablename__ = "feed_import"
    __table_args__ = (
        CheckConstraint(one_of("status", RunStatus), name="status_known"),
        Index("ix_feed_import_region_code_created_at", "region_code", "created_at"),
    )

    filename: Mapped[str] = mapped_column(String(255))
    path: Mapped[str] = mapped_column(Text)
    size_bytes: Mapped[int]
    # The uploader's region: rows outside it are refused.
    region_code: Mapped[str | None] = mapped_column(String(12))
    created_by: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL")
    )
    status: Mapped[str] = mapped_column(String(16))
    next_line: Mapped[int] = mapped_column(server_default=text("1"))
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(server_default=text("now()"))
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]


class FeedRowError(UUIDPrimaryKey, Base):
    """A row refused by an import or a pull, with where it was and why (never a plaintext
    ID number or phone: `value` is masked)."""

    __tablename__ = "feed_row_error"
    __table_args__ = (
        CheckConstraint("(import_id IS NULL) <> (sync_run_id IS NULL)", name="one_origin"),
        Index("ix_feed_row_error_import_id_line", "import_id", "line"),
        Index("ix_feed_row_error_sync_run_id_line", "sync_run_id", "line"),
    )

    import_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("feed_import.id", ondelete="CASCADE")
    )
    sync_run_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("feed_sync_run.id", ondelete="CASCADE")
    )
    # A pull's rows are numbered by page: the page and the record's place in it.
    page: Mapped[int | None]
    line: Mapped[int]
    member_no: Mapped[str | None] = mapped_column(String(32))
    column_name: Mapped[str | None] = mapped_column(String(64))
    value: Mapped[str | None] = mapped_column(String(128))
    reason: Mapped[str] = mapped_column(Text)


class FeedConflict(UUIDPrimaryKey, Base):
    """A disagreement between the feed and our record, left for a township or county user.

    `employment`: the feed and a coordinator state different employment for one member and
    month; `ours` and `theirs` hold both, with their sources and times. `id_number_invalid` /
    `id_number_shared`: a feed member whose ID number fails its check, or shares it with
    another member; such a record is not applied."""

    __tablename__ = "feed_conflict"
    __table_args__ = (
        CheckConstraint(one_of("kind", ConflictKind), name="kind_known"),
        CheckConstraint(one_of("status", ConflictStatus), name="status_known"),
        CheckConstraint(
            one_of("resolution", ConflictResolution, nullable=True), name="resolution_known"
        ),
        CheckConstraint("(status = 'resolved') = (resolution IS NOT NULL)", name="resolved_how"),
        CheckConstraint("kind <> 'employment' OR period IS NOT NULL", name="employment_period"),
        # One open item per member, month and kind: a later pull updates it.
        Index(
            "uq_feed_conflict_open",
            "kind",
            "member_no",
            text("coalesce(period, '')"),
            unique=True,
            postgresql_where=text("status = 'open'"),
        ),
        Index("ix_feed_conflict_village_code_created_at", "village_code", "created_at"),
    )

    kind: Mapped[str] = mapped_column(String(24))
    status: Mapped[str] = mapped_column(String(16), server_default=text("'open'"))
    member_no: Mapped[str] = mapped_column(String(32))
    member_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("member.id", ondelete="CASCADE"))
    # The village the item belongs to, for scope: the member's, or the feed record's.
    village_code: Mapped[str] = mapped_column(String(12))
    period: Mapped[str | None] = mapped_column(String(7))
    # Each side: the values, and where and when they were observed.
    ours: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    theirs: Mapped[dict[str, Any]] = mapped_column(JSONB)
    resolution: Mapped[str | None] = mapped_column(String(16))
    resolved_value: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    resolved_by: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL")
    )
    resolved_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(server_default=text("now()"))
    updated_at: Mapped[datetime] = mapped_column(server_default=text("now()"))


class FeedSetting(Base):
    """A county's feed rules: which side our working copy shows when the feed and a
    coordinator disagree."""

    __tablename__ = "feed_setting"
    __table_args__ = (CheckConstraint(one_of("precedence", Precedence), name="precedence_known"),)

    county_code: Mapped[str] = mapped_column(
        String(12), ForeignKey("region.code", ondelete="CASCADE"), primary_key=True
    )
    precedence: Mapped[str] = mapped_column(String(8), server_default=text("'ours'"))
    updated_by: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL")
    )
    updated_at: Mapped[datetime] = mapped_column(server_default=text("now()"))


class FeedPushBatch(UUIDPrimaryKey, Base):
    """Updates sent back to the feed (`POST /v1/updates`) under one `Idempotency-Key`: recorded
    with its items and committed before it is first sent, then sent as it stands until an
    answer is recorded (`app.feed.pushback`)."""

    __tablename__ = "feed_push_batch"
    __table_args__ = (
        CheckConstraint(one_of("status", PushStatus), name="status_known"),
        Index(
            "ix_feed_push_batch_pending_created_at",
            "created_at",
            postgresql_where=text("status = 'pending'"),
        ),
    )

    # sha256 (hex) of the batch's content: its updates and what each follows.
    idempotency_key: Mapped[str] = mapped_column(String(64), unique=True)
    status: Mapped[str] = mapped_column(String(16), server_default=text("'pending'"))
    items: Mapped[int]
    attempts: Mapped[int] = mapped_column(server_default=text("0"))
    accepted: Mapped[int | None]
    rejected: Mapped[int | None]
    # Why the last attempt got no answer (the batch stays pending and is sent again).
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(server_default=text("now()"))
    last_sent_at: Mapped[datetime | None]
    answered_at: Mapped[datetime | None]


class FeedPushItem(Base):
    """One update of a batch: a member's month as sent (`payload`), the digest of its values,
    and what the feed said of it."""

    __tablename__ = "feed_push_item"
    __table_args__ = (
        CheckConstraint(one_of("status", PushItemStatus), name="status_known"),
        Index("ix_feed_push_item_member_id_period", "member_id", "period"),
    )

    batch_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("feed_push_batch.id", ondelete="CASCADE"), primary_key=True
    )
    # The update's index in the batch, as the feed's answer names it.
    position: Mapped[int] = mapped_column(primary_key=True)
    member_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("member.id", ondelete="CASCADE"))
    period: Mapped[str] = mapped_column(String(7))
    digest: Mapped[bytes] = mapped_column(LargeBinary)
    payload: Mapped[dict[str, Any]] = mapped_column(JSONB)
    status: Mapped[str] = mapped_column(String(8), server_default=text("'sent'"))
    reason: Mapped[str | None] = mapped_column(Text)


class FeedPushed(Base):
    """What the feed last accepted from us for a member's month: a month whose values still
    have this digest is not sent again; a change is."""

    __tablename__ = "feed_pushed"

    member_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("member.id", ondelete="CASCADE"), primary_key=True
    )
    period: Mapped[str] = mapped_column(String(7), primary_key=True)
    digest: Mapped[bytes] = mapped_column(LargeBinary)
    batch_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("feed_push_batch.id", ondelete="SET NULL")
    )
    accepted_at: Mapped[datetime] = mapped_column(server_default=text("now()"))
