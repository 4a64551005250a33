"""What a county sets for its alerts: each rule's thresholds and switch, the day the monthly run
happens, the monitoring income lines by region and year, and the employment targets by region
and year. The rules and their defaults are `app.policy.alerts`."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import CheckConstraint, ForeignKey, Numeric, SmallInteger, String, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from app.core.db import Base, one_of
from app.policy.alerts import MAX_RUN_DAY, MIN_RUN_DAY, AlertRule


class _SetBy:
    updated_by: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL")
    )
    updated_at: Mapped[datetime] = mapped_column(server_default=text("now()"))


class AlertRuleSetting(_SetBy, Base):
    """A county's own thresholds for one rule; a rule without a row runs on its defaults.
    `params` holds only the thresholds the county set (`app.policy.alerts.Threshold` names)."""

    __tablename__ = "alert_rule_setting"
    __table_args__ = (
        CheckConstraint(one_of("rule", AlertRule), name="rule_known"),
        CheckConstraint("jsonb_typeof(params) = 'object'", name="params_object"),
    )

    county_code: Mapped[str] = mapped_column(
        String(12), ForeignKey("region.code", ondelete="CASCADE"), primary_key=True
    )
    rule: Mapped[str] = mapped_column(String(32), primary_key=True)
    enabled: Mapped[bool] = mapped_column(default=True, server_default=text("true"))
    params: Mapped[dict[str, Any]] = mapped_column(
        JSONB, default=dict, server_default=text("'{}'::jsonb")
    )


class AlertSchedule(_SetBy, Base):
    """The day of the month a county's scheduled run computes the month's alerts."""

    __tablename__ = "alert_schedule"
    __table_args__ = (
        CheckConstraint(f"run_day BETWEEN {MIN_RUN_DAY} AND {MAX_RUN_DAY}", name="run_day_range"),
    )

    county_code: Mapped[str] = mapped_column(
        String(12), ForeignKey("region.code", ondelete="CASCADE"), primary_key=True
    )
    run_day: Mapped[int] = mapped_column(SmallInteger)


class MonitoringLine(_SetBy, Base):
    """The monitoring income line (监测收入线, yuan per head per year) of a region for a year:
    a fixed amount, or a multiple of the local minimum living allowance (低保, yuan per head per
    year). A household is held to the line of the nearest region up its tree that has one."""

    __tablename__ = "monitoring_line"
    __table_args__ = (
        CheckConstraint("year BETWEEN 2000 AND 2100", name="year_range"),
        CheckConstraint(
            "(amount IS NOT NULL AND dibao IS NULL AND dibao_multiple IS NULL)"
            " OR (amount IS NULL AND dibao IS NOT NULL AND dibao_multiple IS NOT NULL)",
            name="amount_or_formula",
        ),
        CheckConstraint("amount IS NULL OR amount > 0", name="amount_positive"),
        CheckConstraint("dibao IS NULL OR dibao > 0", name="dibao_positive"),
        CheckConstraint(
            "dibao_multiple IS NULL OR dibao_multiple BETWEEN 0.1 AND 10",
            name="dibao_multiple_range",
        ),
    )

    region_code: Mapped[str] = mapped_column(
        String(12), ForeignKey("region.code", ondelete="CASCADE"), primary_key=True
    )
    year: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    amount: Mapped[Decimal | None] = mapped_column(Numeric(12, 2))
    dibao: Mapped[Decimal | None] = mapped_column(Numeric(12, 2))
    dibao_multiple: Mapped[Decimal | None] = mapped_column(Numeric(4, 2))
    note: Mapped[str | None] = mapped_column(String(200))


class EmploymentTarget(_SetBy, Base):
    """How many labourers of a region (a township or a village) should be working this year
    (务工目标); the month's pace is `target × month ÷ 12` (序时进度)."""

    __tablename__ = "employment_target"
    __table_args__ = (
        CheckConstraint("year BETWEEN 2000 AND 2100", name="year_range"),
        CheckConstraint("target > 0", name="target_positive"),
    )

    region_code: Mapped[str] = mapped_column(
        String(12), ForeignKey("region.code", ondelete="CASCADE"), primary_key=True
    )
    year: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    target: Mapped[int]
