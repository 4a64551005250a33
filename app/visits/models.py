from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import CheckConstraint, Float, ForeignKey, Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from app.core.db import Base, one_of
from app.policy.values import VisitMethod


class Visit(Base):
    """One visit to a household. The phone chooses the id, so a retried upload is recognised."""

    __tablename__ = "visit"
    __table_args__ = (
        CheckConstraint(one_of("method", VisitMethod), name="method_known"),
        CheckConstraint("(lat IS NULL) = (lon IS NULL)", name="location_complete"),
        Index("ix_visit_household_id_visited_at", "household_id", "visited_at"),
        Index("ix_visit_coordinator_id_visited_at", "coordinator_id", "visited_at"),
        Index("ix_visit_village_code_visited_at", "village_code", "visited_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    household_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("household.id", ondelete="CASCADE"))
    coordinator_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("user_account.id", ondelete="RESTRICT")
    )
    # The household's village when visited: scope filters on it without a join.
    village_code: Mapped[str] = mapped_column(String(12))
    visited_at: Mapped[datetime]
    method: Mapped[str] = mapped_column(String(16))
    lat: Mapped[float | None] = mapped_column(Float)
    lon: Mapped[float | None] = mapped_column(Float)
    distance_m: Mapped[int | None] = mapped_column(
        comment="Metres from the village centre, when both are known"
    )
    needs_review: Mapped[bool] = mapped_column(server_default=text("false"))
    notes: Mapped[str] = mapped_column(Text, server_default=text("''"))
    # SHA-256 of the request as sent: the same id with another body is a conflict.
    request_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(server_default=text("now()"))
