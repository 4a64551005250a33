from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal

from sqlalchemy import (
    ARRAY,
    CheckConstraint,
    ForeignKey,
    Index,
    LargeBinary,
    Numeric,
    SmallInteger,
    String,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from app.core.db import Base, Timestamps, UUIDPrimaryKey, one_of
from app.policy.values import (
    Channel,
    EmploymentStatus,
    HouseholdCategory,
    Intent,
    LabourType,
    MonitorType,
    ObservationSource,
    WorkRegion,
)

PERIOD_CHECK = r"period ~ '^[0-9]{4}-(0[1-9]|1[0-2])$'"


class Household(UUIDPrimaryKey, Timestamps, Base):
    __tablename__ = "household"
    __table_args__ = (
        CheckConstraint(one_of("category", HouseholdCategory), name="category_known"),
        CheckConstraint(
            one_of("monitor_type", MonitorType, nullable=True), name="monitor_type_known"
        ),
        # Scoped listing walks this index in order: village range, then household number.
        Index("ix_household_village_code_household_no", "village_code", "household_no"),
    )

    household_no: Mapped[str] = mapped_column(String(32), unique=True)
    village_code: Mapped[str] = mapped_column(
        String(12), ForeignKey("region.code", ondelete="RESTRICT")
    )
    category: Mapped[str] = mapped_column(String(8))
    monitor_type: Mapped[str | None] = mapped_column(String(16))
    risk_types: Mapped[list[str]] = mapped_column(
        ARRAY(String(16)), default=list, server_default=text("'{}'")
    )
    risk_eliminated: Mapped[bool] = mapped_column(default=False, server_default=text("false"))
    relocated: Mapped[bool] = mapped_column(default=False, server_default=text("false"))
    income_per_capita: Mapped[Decimal | None] = mapped_column(Numeric(12, 2))
    version: Mapped[int] = mapped_column(default=1, server_default=text("1"))

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012


class Member(UUIDPrimaryKey, Timestamps, Base):
    __tablename__ = "member"
    __table_args__ = (
        CheckConstraint(one_of("labour_type", LabourType), name="labour_type_known"),
        # Name search is by prefix (surname or full name): a pattern index serves LIKE 'q%'.
        Index("ix_member_name_pattern", "name", postgresql_ops={"name": "varchar_pattern_ops"}),
    )

    household_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("household.id", ondelete="CASCADE"), index=True
    )
    member_no: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(64))
    # Personal data: AES-GCM ciphertext, and a keyed HMAC for exact lookups.
    id_number_cipher: Mapped[bytes] = mapped_column(LargeBinary)
    id_number_index: Mapped[bytes] = mapped_column(LargeBinary, unique=True)
    phone_cipher: Mapped[bytes | None] = mapped_column(LargeBinary)
    phone_index: Mapped[bytes | None] = mapped_column(LargeBinary, index=True)
    relation: Mapped[str] = mapped_column(String(16))
    labour_type: Mapped[str] = mapped_column(String(16))
    skills: Mapped[list[str]] = mapped_column(
        ARRAY(String(32)), default=list, server_default=text("'{}'")
    )
    in_school: Mapped[bool] = mapped_column(default=False, server_default=text("false"))
    disability: Mapped[bool] = mapped_column(default=False, server_default=text("false"))
    version: Mapped[int] = mapped_column(default=1, server_default=text("1"))
    # Set when the feed says the person left the registry: kept for history and audit, gone
    # from every list.
    deleted_at: Mapped[datetime | None]

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012


class MemberEmployment(Base):
    """One labourer's employment in one month (务工信息), from the feed, a visit or by hand."""

    __tablename__ = "member_employment"
    __table_args__ = (
        CheckConstraint(PERIOD_CHECK, name="period_format"),
        CheckConstraint(one_of("status", EmploymentStatus), name="status_known"),
        CheckConstraint(one_of("work_region", WorkRegion, nullable=True), name="work_region_known"),
        CheckConstraint(one_of("channel", Channel, nullable=True), name="channel_known"),
        CheckConstraint(one_of("source", ObservationSource), name="source_known"),
        CheckConstraint("months BETWEEN 0 AND 12", name="months_range"),
        # "Who is (not) working this month" scans one period.
        Index("ix_member_employment_period_status", "period", "status"),
    )

    member_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("member.id", ondelete="CASCADE"), primary_key=True
    )
    period: Mapped[str] = mapped_column(String(7), primary_key=True)
    status: Mapped[str] = mapped_column(String(8))
    work_region: Mapped[str | None] = mapped_column(String(8))
    channel: Mapped[str | None] = mapped_column(String(16))
    employer: Mapped[str | None] = mapped_column(String(128))
    months: Mapped[int] = mapped_column(SmallInteger, default=0, server_default=text("0"))
    income: Mapped[Decimal | None] = mapped_column(Numeric(12, 2))
    source: Mapped[str] = mapped_column(String(8))
    observed_at: Mapped[datetime]
    updated_at: Mapped[datetime] = mapped_column(server_default=text("now()"))


class MemberIntent(Base):
    """A labourer's current intent (就业意愿). 无意愿 needs a reason: those form a ledger."""

    __tablename__ = "member_intent"
    __table_args__ = (
        CheckConstraint(one_of("intent", Intent), name="intent_known"),
        CheckConstraint(
            "intent <> '无意愿' OR coalesce(btrim(reason), '') <> ''", name="no_intent_has_reason"
        ),
        CheckConstraint(one_of("source", ObservationSource), name="source_known"),
    )

    member_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("member.id", ondelete="CASCADE"), primary_key=True
    )
    intent: Mapped[str] = mapped_column(String(8), index=True)
    reason: Mapped[str | None] = mapped_column(String(200))
    training_needs: Mapped[list[str]] = mapped_column(
        ARRAY(String(32)), default=list, server_default=text("'{}'")
    )
    wanted_job_types: Mapped[list[str]] = mapped_column(
        ARRAY(String(32)), default=list, server_default=text("'{}'")
    )
    source: Mapped[str] = mapped_column(String(8))
    observed_at: Mapped[datetime]
    updated_at: Mapped[datetime] = mapped_column(server_default=text("now()"))


class RegistrySetting(Base):
    """A county's registry settings: how many full ID numbers one manager may see an hour
    (none set: `ID_REVEAL_MAX`)."""

    __tablename__ = "registry_setting"
    __table_args__ = (
        CheckConstraint("id_reveal_max BETWEEN 0 AND 1000", name="id_reveal_max_range"),
    )

    county_code: Mapped[str] = mapped_column(
        String(12), ForeignKey("region.code", ondelete="CASCADE"), primary_key=True
    )
    id_reveal_max: Mapped[int]
    updated_by: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL")
    )
    updated_at: Mapped[datetime] = mapped_column(server_default=text("now()"))
