"""Trainings (培训): courses in a region, their sessions, who enrolled, who attended."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import (
    CheckConstraint,
    ForeignKey,
    Index,
    String,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from app.core.db import Base, Timestamps, UUIDPrimaryKey, one_of
from app.policy.values import TrainingType


class Training(UUIDPrimaryKey, Timestamps, Base):
    __tablename__ = "training"
    __table_args__ = (
        CheckConstraint(one_of("type", TrainingType), name="type_known"),
        CheckConstraint("capacity >= 1", name="capacity_positive"),
        CheckConstraint("ends_at > starts_at", name="ends_after_starts"),
        # Scoped listing: region range, newest first.
        Index("ix_training_region_code_starts_at", "region_code", "starts_at"),
    )

    title: Mapped[str] = mapped_column(String(200))
    type: Mapped[str] = mapped_column(String(8))
    region_code: Mapped[str] = mapped_column(
        String(12), ForeignKey("region.code", ondelete="RESTRICT")
    )
    organizer: Mapped[str] = mapped_column(String(128))
    location: Mapped[str] = mapped_column(String(200))
    capacity: Mapped[int]
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime]
    created_by: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL")
    )


class TrainingSession(UUIDPrimaryKey, Base):
    """One sitting of a course (a day, a morning): attendance is taken per session."""

    __tablename__ = "training_session"
    __table_args__ = (
        CheckConstraint("ends_at > starts_at", name="ends_after_starts"),
        Index("ix_training_session_training_id_starts_at", "training_id", "starts_at"),
    )

    training_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("training.id", ondelete="CASCADE"))
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime]
    # When the enrolled were reminded, the day before: set with the reminders, so once only.
    reminded_at: Mapped[datetime | None]


class TrainingEnrollment(UUIDPrimaryKey, Base):
    """A member on a course: enrolled (within capacity) or waitlisted, in order of arrival."""

    __tablename__ = "training_enrollment"
    __table_args__ = (
        CheckConstraint("status IN ('enrolled', 'waitlisted')", name="status_known"),
        CheckConstraint(
            "completed_on IS NULL OR status = 'enrolled'", name="completed_when_enrolled"
        ),
        UniqueConstraint("training_id", "member_id"),
        # The waiting list is read in this order (promotion takes the first).
        Index(
            "ix_training_enrollment_training_id_status_created_at",
            "training_id",
            "status",
            "created_at",
        ),
    )

    training_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("training.id", ondelete="CASCADE"))
    member_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("member.id", ondelete="CASCADE"), index=True
    )
    status: Mapped[str] = mapped_column(String(16))
    # Set by the service once the training row is locked, so it orders the waiting list.
    created_at: Mapped[datetime]
    completed_on: Mapped[date | None]
    certificate_no: Mapped[str | None] = mapped_column(String(64))


class TrainingAttendance(Base):
    """Whether a member attended one session: from the coordinator's roll or a QR check-in."""

    __tablename__ = "training_attendance"
    __table_args__ = (
        CheckConstraint("source IN ('roll', 'checkin')", name="source_known"),
        Index("ix_training_attendance_training_id_member_id", "training_id", "member_id"),
    )

    session_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("training_session.id", ondelete="CASCADE"), primary_key=True
    )
    member_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("member.id", ondelete="CASCADE"), primary_key=True
    )
    training_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("training.id", ondelete="CASCADE"))
    present: Mapped[bool]
    source: Mapped[str] = mapped_column(String(8))
    recorded_at: Mapped[datetime] = mapped_column(server_default=text("now()"))
