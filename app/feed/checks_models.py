"""Data checks' rows: what each rule found, per household (and member), and the exemptions
that silence a rule for a household or one of its members (`app.policy.data_checks`)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, UniqueConstraint, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from app.core.db import Base, UUIDPrimaryKey, one_of
from app.policy.data_checks import CheckCode


class DataCheckFinding(UUIDPrimaryKey, Base):
    """A rule that holds for a household (`member_id` null) or a member, as of the last refresh
    of its region: `first_found_at` stays while it keeps holding, `last_found_at` moves."""

    __tablename__ = "data_check_finding"
    __table_args__ = (
        CheckConstraint(one_of("rule", CheckCode), name="rule_known"),
        # One finding per rule and household or member; a household's own has no member.
        UniqueConstraint("rule", "household_id", "member_id", postgresql_nulls_not_distinct=True),
        # Scoped listing walks villages, then households.
        Index("ix_data_check_finding_village_code_household_id", "village_code", "household_id"),
    )

    rule: Mapped[str] = mapped_column(String(40))
    household_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("household.id", ondelete="CASCADE"))
    member_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("member.id", ondelete="CASCADE"), index=True
    )
    # The household's village when found, for scope.
    village_code: Mapped[str] = mapped_column(String(12))
    # The month an employment rule looked at; null for the others.
    period: Mapped[str | None] = mapped_column(String(7))
    details: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default=text("'{}'::jsonb"))
    first_found_at: Mapped[datetime] = mapped_column(server_default=text("now()"))
    last_found_at: Mapped[datetime] = mapped_column(server_default=text("now()"))


class DataCheckExemption(UUIDPrimaryKey, Base):
    """A rule silenced for a household (`member_id` null: all of it) or one member, with why."""

    __tablename__ = "data_check_exemption"
    __table_args__ = (
        CheckConstraint(one_of("rule", CheckCode), name="rule_known"),
        UniqueConstraint("rule", "household_id", "member_id", postgresql_nulls_not_distinct=True),
        Index("ix_data_check_exemption_household_id", "household_id"),
    )

    rule: Mapped[str] = mapped_column(String(40))
    household_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("household.id", ondelete="CASCADE"))
    member_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("member.id", ondelete="CASCADE"), index=True
    )
    reason: Mapped[str] = mapped_column(String(200))
    created_by: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(server_default=text("now()"))
