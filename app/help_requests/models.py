"""Help requests, their thread, the deadline steps already taken, and counties' settings."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import CheckConstraint, ForeignKey, Index, SmallInteger, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from app.core.db import Base, one_of
from app.core.ids import uuid7
from app.policy.values import ContactMethod, HelpCategory


class HelpStatus(StrEnum):
    """submitted → accepted → in_progress → resolved → rated; withdrawn by the villager before
    it is resolved; referred to the township by a coordinator before acceptance (the township
    then accepts it)."""

    submitted = "submitted"
    referred = "referred"
    accepted = "accepted"
    in_progress = "in_progress"
    resolved = "resolved"
    rated = "rated"
    withdrawn = "withdrawn"


class DeadlineKind(StrEnum):
    """The deadline a request runs against (`app.policy.help_requests`)."""

    response = "response"
    referral = "referral"
    training = "training"


class EscalationStep(StrEnum):
    due_soon = "due_soon"
    township = "township"
    county = "county"


class EventKind(StrEnum):
    """An entry of a request's thread: each step, and every message of either side."""

    submitted = "submitted"
    accepted = "accepted"
    replied = "replied"
    referred = "referred"
    resolved = "resolved"
    withdrawn = "withdrawn"
    rated = "rated"


class HelpRequest(Base):
    """One request for help. The phone chooses the id, so a retried filing is recognised."""

    __tablename__ = "help_request"
    __table_args__ = (
        CheckConstraint(one_of("category", HelpCategory), name="category_known"),
        CheckConstraint(one_of("contact_method", ContactMethod), name="contact_method_known"),
        CheckConstraint(one_of("status", HelpStatus), name="status_known"),
        CheckConstraint(one_of("deadline", DeadlineKind, nullable=True), name="deadline_known"),
        CheckConstraint(
            "(deadline IS NULL) = (due_at IS NULL) AND (due_at IS NULL) = (due_soon_at IS NULL)"
            " AND (due_at IS NULL) = (county_at IS NULL)",
            name="deadline_complete",
        ),
        CheckConstraint("rating_score BETWEEN 1 AND 5", name="rating_score_range"),
        Index("ix_help_request_village_code_created_at", "village_code", "created_at"),
        Index("ix_help_request_member_id_created_at", "member_id", "created_at"),
        # The deadline job reads only the requests with a deadline running.
        Index(
            "ix_help_request_running_due_soon_at",
            "due_soon_at",
            postgresql_where=text("deadline IS NOT NULL"),
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    member_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("member.id", ondelete="CASCADE"))
    # The member's village when filed: scope filters on it without a join.
    village_code: Mapped[str] = mapped_column(
        String(12), ForeignKey("region.code", ondelete="RESTRICT")
    )
    # Whose staff handle it: the village's coordinators, or its township's managers (the
    # village had no coordinator when it was filed, or a coordinator referred it).
    routed_to: Mapped[str] = mapped_column(
        String(12), ForeignKey("region.code", ondelete="RESTRICT")
    )
    category: Mapped[str] = mapped_column(String(8))
    description: Mapped[str] = mapped_column(Text)
    contact_method: Mapped[str] = mapped_column(String(8))
    contact_note: Mapped[str] = mapped_column(String(200), server_default=text("''"))
    status: Mapped[str] = mapped_column(String(16), server_default=text("'submitted'"))
    filed_by: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL")
    )
    # SHA-256 of the filing as sent: the same id with another body is a conflict.
    request_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(server_default=text("now()"))
    updated_at: Mapped[datetime] = mapped_column(server_default=text("now()"))
    accepted_at: Mapped[datetime | None]
    accepted_by: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL")
    )
    referred_at: Mapped[datetime | None]
    referred_by: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL")
    )
    resolved_at: Mapped[datetime | None]
    resolved_by: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL")
    )
    withdrawn_at: Mapped[datetime | None]
    rated_at: Mapped[datetime | None]
    # Kept for coordinators' evaluation.
    rating_score: Mapped[int | None] = mapped_column(SmallInteger)
    rating_comment: Mapped[str | None] = mapped_column(String(500))
    # When the member was first enrolled on a training after a 技能培训 request's acceptance.
    training_enrolled_at: Mapped[datetime | None]
    # The deadline running now, if any, and its marks (`app.policy.help_requests.marks`).
    deadline: Mapped[str | None] = mapped_column(String(16))
    due_soon_at: Mapped[datetime | None]
    due_at: Mapped[datetime | None]
    county_at: Mapped[datetime | None]


class HelpRequestEvent(Base):
    """The thread both sides read: every step of a request and every message, in order."""

    __tablename__ = "help_request_event"
    __table_args__ = (
        CheckConstraint(one_of("kind", EventKind), name="kind_known"),
        Index("ix_help_request_event_request_id_occurred_at", "request_id", "occurred_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(
        primary_key=True, default=uuid7, server_default=text("uuid_v7()")
    )
    request_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("help_request.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))
    actor_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL")
    )
    actor_role: Mapped[str] = mapped_column(String(16))
    message: Mapped[str] = mapped_column(Text, server_default=text("''"))
    occurred_at: Mapped[datetime] = mapped_column(server_default=text("clock_timestamp()"))


class HelpRequestEscalation(Base):
    """A deadline mark acted on: at most one row per request, deadline and step, so a step is
    taken once however many deadline jobs run (`ON CONFLICT DO NOTHING`)."""

    __tablename__ = "help_request_escalation"
    __table_args__ = (
        CheckConstraint(one_of("deadline", DeadlineKind), name="deadline_known"),
        CheckConstraint(one_of("step", EscalationStep), name="step_known"),
    )

    request_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("help_request.id", ondelete="CASCADE"), primary_key=True
    )
    deadline: Mapped[str] = mapped_column(String(16), primary_key=True)
    step: Mapped[str] = mapped_column(String(16), primary_key=True)
    # The region whose staff were told (the handling region, the township, the county).
    region_code: Mapped[str] = mapped_column(String(12))
    due_at: Mapped[datetime]
    escalated_at: Mapped[datetime] = mapped_column(server_default=text("now()"))


class HelpRequestSetting(Base):
    """A county's help-request settings: how long a first response may take."""

    __tablename__ = "help_request_setting"
    __table_args__ = (
        CheckConstraint(
            "first_response_hours BETWEEN 1 AND 720", name="first_response_hours_range"
        ),
    )

    county_code: Mapped[str] = mapped_column(
        String(12), ForeignKey("region.code", ondelete="CASCADE"), primary_key=True
    )
    first_response_hours: Mapped[int]
    updated_by: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL")
    )
    updated_at: Mapped[datetime] = mapped_column(server_default=text("now()"))
