"""Alerts as episodes, the runs that compute them, and how far each county's runs have got.

An alert is one episode of one rule's condition for one subject (a member, a household or a
region): it opens the first month a run finds the condition, is continued by every later run
that still finds it, and ends (`ended_period`) the first month a run no longer does. At most
one episode of a (rule, subject) is current (`ended_period IS NULL`) at any time.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    CheckConstraint,
    Computed,
    ForeignKey,
    Index,
    SmallInteger,
    String,
    Text,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from app.core.db import Base, UUIDPrimaryKey, one_of
from app.core.ids import uuid7
from app.households.models import PERIOD_CHECK
from app.policy.alerts import AlertKind, AlertRule, AlertStatus, ResolutionAction


def _month_index(column: str) -> str:
    """A `YYYY-MM` column as a count of months, in SQL."""
    return f"(substr({column}, 1, 4)::int * 12 + substr({column}, 6, 2)::int)"


# How many months an episode has lasted: from the month it opened to the last month a run
# found its condition, both counted. Months between two runs (a month no run computed) count
# as held: the condition was there before and after.
MONTHS_SQL = f"{_month_index('last_period')} - {_month_index('opened_period')} + 1"


class Alert(UUIDPrimaryKey, Base):
    __tablename__ = "alert"
    __table_args__ = (
        CheckConstraint(one_of("rule", AlertRule), name="rule_known"),
        CheckConstraint(one_of("kind", AlertKind), name="kind_known"),
        CheckConstraint(one_of("status", AlertStatus), name="status_known"),
        CheckConstraint(
            one_of("resolution_action", ResolutionAction, nullable=True), name="action_known"
        ),
        CheckConstraint(PERIOD_CHECK.replace("period", "opened_period"), name="opened_format"),
        CheckConstraint(PERIOD_CHECK.replace("period", "last_period"), name="last_format"),
        CheckConstraint(
            "ended_period IS NULL OR " + PERIOD_CHECK.replace("period", "ended_period"),
            name="ended_format",
        ),
        CheckConstraint("opened_period <= last_period", name="last_after_opened"),
        CheckConstraint("ended_period IS NULL OR ended_period >= last_period", name="ended_after"),
        CheckConstraint(
            "(status = 'auto_resolved') <= (ended_period IS NOT NULL)", name="auto_resolved_ended"
        ),
        CheckConstraint(
            "(status = 'resolved') = (resolved_at IS NOT NULL)", name="resolved_stamped"
        ),
        CheckConstraint("jsonb_typeof(evidence) = 'object'", name="evidence_object"),
        # One current episode per (rule, subject): the run's merge relies on it.
        Index(
            "uq_alert_rule_subject_current",
            "rule",
            "subject",
            unique=True,
            postgresql_where=text("ended_period IS NULL"),
        ),
        # The run ends the current episodes of the (county, rule) pairs it evaluated.
        Index(
            "ix_alert_county_code_rule_current",
            "county_code",
            "rule",
            postgresql_where=text("ended_period IS NULL"),
        ),
        Index("ix_alert_region_code_created_at", "region_code", "created_at"),
        Index("ix_alert_rule_subject", "rule", "subject"),
        Index("ix_alert_member_id", "member_id"),
        Index("ix_alert_household_id", "household_id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid7)
    rule: Mapped[str] = mapped_column(String(32))
    # The member id, household id (as text) or region code the alert is about.
    subject: Mapped[str] = mapped_column(String(36))
    kind: Mapped[str] = mapped_column(String(16))
    county_code: Mapped[str] = mapped_column(String(12))
    # The village of a member or household; the region itself for a regional alert.
    region_code: Mapped[str] = mapped_column(String(12))
    household_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("household.id", ondelete="CASCADE")
    )
    member_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("member.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(String(16))
    opened_period: Mapped[str] = mapped_column(String(7))
    last_period: Mapped[str] = mapped_column(String(7))
    ended_period: Mapped[str | None] = mapped_column(String(7))
    months: Mapped[int] = mapped_column(SmallInteger, Computed(MONTHS_SQL, persisted=True))
    # What fired it, by month: {"2026-09": {...}, "2026-10": {...}}.
    evidence: Mapped[dict[str, Any]] = mapped_column(JSONB)
    acknowledged_at: Mapped[datetime | None]
    acknowledged_by: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL")
    )
    resolved_at: Mapped[datetime | None]
    resolved_by: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL")
    )
    resolution_action: Mapped[str | None] = mapped_column(String(16))
    resolution_note: Mapped[str | None] = mapped_column(Text)
    version: Mapped[int] = mapped_column(default=1, server_default=text("1"))
    created_at: Mapped[datetime] = mapped_column(server_default=text("now()"))
    updated_at: Mapped[datetime] = mapped_column(server_default=text("now()"))


class AlertRunTrigger(StrEnum):
    scheduled = "scheduled"
    manual = "manual"


class AlertRunStatus(StrEnum):
    queued = "queued"
    running = "running"
    succeeded = "succeeded"
    failed = "failed"


class AlertRun(UUIDPrimaryKey, Base):
    """One computation of a period's alerts over a region, asked for or scheduled. A scheduled
    run is one row per (county, period) (a unique index), whichever worker claims it first."""

    __tablename__ = "alert_run"
    __table_args__ = (
        CheckConstraint(one_of("trigger", AlertRunTrigger), name="trigger_known"),
        CheckConstraint(one_of("status", AlertRunStatus), name="status_known"),
        CheckConstraint(PERIOD_CHECK, name="period_format"),
        Index(
            "uq_alert_run_region_code_period_scheduled",
            "region_code",
            "period",
            unique=True,
            postgresql_where=text("trigger = 'scheduled'"),
        ),
        Index("ix_alert_run_region_code_created_at", "region_code", "created_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid7)
    period: Mapped[str] = mapped_column(String(7))
    region_code: Mapped[str] = mapped_column(String(12), ForeignKey("region.code"))
    trigger: Mapped[str] = mapped_column(String(16))
    requested_by: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL")
    )
    status: Mapped[str] = mapped_column(String(16))
    rules_total: Mapped[int] = mapped_column(server_default=text("0"))
    rules_done: Mapped[int] = mapped_column(server_default=text("0"))
    opened: Mapped[int] = mapped_column(server_default=text("0"))
    continued: Mapped[int] = mapped_column(server_default=text("0"))
    ended: Mapped[int] = mapped_column(server_default=text("0"))
    notified: Mapped[int] = mapped_column(server_default=text("0"))
    error_code: Mapped[str | None] = mapped_column(String(32))
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(server_default=text("now()"))
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]


class AlertCountyPeriod(Base):
    """The latest period a run has computed for a county: a run for an earlier period would
    rewrite episodes that later months have already moved on, and is refused."""

    __tablename__ = "alert_county_period"
    __table_args__ = (CheckConstraint(PERIOD_CHECK, name="period_format"),)

    county_code: Mapped[str] = mapped_column(
        String(12), ForeignKey("region.code", ondelete="CASCADE"), primary_key=True
    )
    period: Mapped[str] = mapped_column(String(7))
    updated_at: Mapped[datetime] = mapped_column(server_default=text("now()"))
