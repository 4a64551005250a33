from __future__ import annotations

import uuid
from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import (
    ARRAY,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from app.core.db import Base, Timestamps, UUIDPrimaryKey, one_of
from app.policy.values import JobSource, WorkRegion


class JobStatus(StrEnum):
    open = "open"
    closed = "closed"


class PushStatus(StrEnum):
    """Where a pushed job stands with the labourer; it only moves forward (see service)."""

    pushed = "pushed"
    viewed = "viewed"
    interested = "interested"
    interviewed = "interviewed"
    hired = "hired"
    declined = "declined"


class Job(UUIDPrimaryKey, Timestamps, Base):
    """A job opening (岗位) from a job station, labour cooperation, a workshop or a welfare post."""

    __tablename__ = "job"
    __table_args__ = (
        CheckConstraint(one_of("location_type", WorkRegion), name="location_type_known"),
        CheckConstraint(one_of("source", JobSource), name="source_known"),
        CheckConstraint(one_of("status", JobStatus), name="status_known"),
        CheckConstraint("wage_min <= wage_max", name="wage_range"),
        CheckConstraint("wage_min >= 0", name="wage_non_negative"),
        CheckConstraint("headcount >= 1", name="headcount_positive"),
        # Matching and the expiry job read open jobs by date; listing pages by newest first.
        Index("ix_job_status_valid_until", "status", "valid_until"),
        Index("ix_job_created_at_id", "created_at", "id"),
        Index("ix_job_title_pattern", "title", postgresql_ops={"title": "varchar_pattern_ops"}),
    )

    title: Mapped[str] = mapped_column(String(100))
    employer: Mapped[str] = mapped_column(String(128))
    region_code: Mapped[str] = mapped_column(
        String(12), ForeignKey("region.code", ondelete="RESTRICT"), index=True
    )
    location_type: Mapped[str] = mapped_column(String(8))
    # Monthly wage in whole yuan.
    wage_min: Mapped[int]
    wage_max: Mapped[int]
    headcount: Mapped[int]
    requirements: Mapped[str] = mapped_column(Text, server_default=text("''"))
    skills: Mapped[list[str]] = mapped_column(
        ARRAY(String(32)), default=list, server_default=text("'{}'")
    )
    source: Mapped[str] = mapped_column(String(8))
    valid_until: Mapped[date] = mapped_column(Date)
    # Unsuitable for weak or half labour (弱劳动力或半劳动力): matching never offers it to them.
    heavy_labour: Mapped[bool] = mapped_column(default=False, server_default=text("false"))
    status: Mapped[str] = mapped_column(String(8), default=JobStatus.open.value)
    created_by: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL")
    )


class JobPush(UUIDPrimaryKey, Base):
    """One job pushed to one labourer, in one of their rounds (轮次)."""

    __tablename__ = "job_push"
    __table_args__ = (
        UniqueConstraint("job_id", "member_id"),
        CheckConstraint(one_of("status", PushStatus), name="status_known"),
        CheckConstraint('"round" >= 1', name="round_positive"),
        CheckConstraint(
            "status <> 'declined' OR coalesce(btrim(reason), '') <> ''", name="declined_has_reason"
        ),
        Index("ix_job_push_member_id_round", "member_id", "round"),
        Index("ix_job_push_village_code_member_id", "village_code", "member_id"),
    )

    job_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("job.id", ondelete="CASCADE"))
    member_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("member.id", ondelete="CASCADE"))
    # The member's village when pushed: scope filters on it without a join.
    village_code: Mapped[str] = mapped_column(String(12))
    round: Mapped[int] = mapped_column(SmallInteger)
    status: Mapped[str] = mapped_column(String(12), default=PushStatus.pushed.value)
    reason: Mapped[str | None] = mapped_column(String(200))
    pushed_by: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL")
    )
    pushed_at: Mapped[datetime] = mapped_column(server_default=text("now()"))
    updated_at: Mapped[datetime] = mapped_column(server_default=text("now()"))
