"""Alerts as episodes, their runs, and the latest period computed per county.

Revision ID: 20261129_2220
Revises: 20261129_2210
Create Date: 2026-11-29 22:20:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "20261129_2220"
down_revision: str | None = "20261129_2210"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_RULES = (
    "'employment_lost', 'zero_employment_household', 'returned_home', 'unstable_employment', "
    "'income_drop', 'below_monitoring_line', 'intent_unassisted', 'training_overdue', "
    "'visit_overdue', 'subsidy_eligible', 'data_inconsistent', 'region_employment_drop', "
    "'region_behind_target'"
)
_PERIOD = "~ '^[0-9]{4}-(0[1-9]|1[0-2])$'"


def _month_index(column: str) -> str:
    return f"(substr({column}, 1, 4)::int * 12 + substr({column}, 6, 2)::int)"


def upgrade() -> None:
    op.create_table(
        "alert",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("rule", sa.String(length=32), nullable=False),
        sa.Column("subject", sa.String(length=36), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("county_code", sa.String(length=12), nullable=False),
        sa.Column("region_code", sa.String(length=12), nullable=False),
        sa.Column("household_id", sa.Uuid(), nullable=True),
        sa.Column("member_id", sa.Uuid(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("opened_period", sa.String(length=7), nullable=False),
        sa.Column("last_period", sa.String(length=7), nullable=False),
        sa.Column("ended_period", sa.String(length=7), nullable=True),
        sa.Column(
            "months",
            sa.SmallInteger(),
            sa.Computed(
                f"{_month_index('last_period')} - {_month_index('opened_period')} + 1",
                persisted=True,
            ),
            nullable=False,
        ),
        sa.Column("evidence", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("acknowledged_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("acknowledged_by", sa.Uuid(), nullable=True),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("resolved_by", sa.Uuid(), nullable=True),
        sa.Column("resolution_action", sa.String(length=16), nullable=True),
        sa.Column("resolution_note", sa.Text(), nullable=True),
        sa.Column("version", sa.Integer(), server_default=sa.text("1"), nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.CheckConstraint(f"rule IN ({_RULES})", name=op.f("ck_alert_rule_known")),
        sa.CheckConstraint("kind IN ('risk', 'opportunity')", name=op.f("ck_alert_kind_known")),
        sa.CheckConstraint(
            "status IN ('open', 'acknowledged', 'resolved', 'auto_resolved')",
            name=op.f("ck_alert_status_known"),
        ),
        sa.CheckConstraint(
            "resolution_action IS NULL OR resolution_action IN "
            "('职业指导', '职业介绍', '技能培训', '公益性岗位安置', '其他')",
            name=op.f("ck_alert_action_known"),
        ),
        sa.CheckConstraint(f"opened_period {_PERIOD}", name=op.f("ck_alert_opened_format")),
        sa.CheckConstraint(f"last_period {_PERIOD}", name=op.f("ck_alert_last_format")),
        sa.CheckConstraint(
            f"ended_period IS NULL OR ended_period {_PERIOD}", name=op.f("ck_alert_ended_format")
        ),
        sa.CheckConstraint(
            "opened_period <= last_period", name=op.f("ck_alert_last_after_opened")
        ),
        sa.CheckConstraint(
            "ended_period IS NULL OR ended_period >= last_period", name=op.f("ck_alert_ended_after")
        ),
        sa.CheckConstraint(
            "(status = 'auto_resolved') <= (ended_period IS NOT NULL)",
            name=op.f("ck_alert_auto_resolved_ended"),
        ),
        sa.CheckConstraint(
            "(status = 'resolved') = (resolved_at IS NOT NULL)",
            name=op.f("ck_alert_resolved_stamped"),
        ),
        sa.CheckConstraint(
            "jsonb_typeof(evidence) = 'object'", name=op.f("ck_alert_evidence_object")
        ),
        sa.ForeignKeyConstraint(
            ["household_id"], ["household.id"],
            name=op.f("fk_alert_household_id_household"), ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["member_id"], ["member.id"], name=op.f("fk_alert_member_id_member"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["acknowledged_by"], ["user_account.id"],
            name=op.f("fk_alert_acknowledged_by_user_account"), ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["resolved_by"], ["user_account.id"],
            name=op.f("fk_alert_resolved_by_user_account"), ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alert")),
    )  # fmt: skip
    op.create_index(
        "uq_alert_rule_subject_current",
        "alert",
        ["rule", "subject"],
        unique=True,
        postgresql_where=sa.text("ended_period IS NULL"),
    )
    op.create_index(
        "ix_alert_county_code_rule_current",
        "alert",
        ["county_code", "rule"],
        postgresql_where=sa.text("ended_period IS NULL"),
    )
    op.create_index("ix_alert_region_code_created_at", "alert", ["region_code", "created_at"])
    op.create_index("ix_alert_rule_subject", "alert", ["rule", "subject"])
    op.create_index("ix_alert_member_id", "alert", ["member_id"])
    op.create_index("ix_alert_household_id", "alert", ["household_id"])

    op.create_table(
        "alert_run",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("period", sa.String(length=7), nullable=False),
        sa.Column("region_code", sa.String(length=12), nullable=False),
        sa.Column("trigger", sa.String(length=16), nullable=False),
        sa.Column("requested_by", sa.Uuid(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("rules_total", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("rules_done", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("opened", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("continued", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("ended", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("notified", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("error_code", sa.String(length=32), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "trigger IN ('scheduled', 'manual')", name=op.f("ck_alert_run_trigger_known")
        ),
        sa.CheckConstraint(
            "status IN ('queued', 'running', 'succeeded', 'failed')",
            name=op.f("ck_alert_run_status_known"),
        ),
        sa.CheckConstraint(f"period {_PERIOD}", name=op.f("ck_alert_run_period_format")),
        sa.ForeignKeyConstraint(
            ["region_code"], ["region.code"], name=op.f("fk_alert_run_region_code_region")
        ),
        sa.ForeignKeyConstraint(
            ["requested_by"], ["user_account.id"],
            name=op.f("fk_alert_run_requested_by_user_account"), ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alert_run")),
    )  # fmt: skip
    op.create_index(
        "uq_alert_run_region_code_period_scheduled",
        "alert_run",
        ["region_code", "period"],
        unique=True,
        postgresql_where=sa.text("trigger = 'scheduled'"),
    )
    op.create_index(
        "ix_alert_run_region_code_created_at", "alert_run", ["region_code", "created_at"]
    )

    op.create_table(
        "alert_county_period",
        sa.Column("county_code", sa.String(length=12), nullable=False),
        sa.Column("period", sa.String(length=7), nullable=False),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.CheckConstraint(
            f"period {_PERIOD}", name=op.f("ck_alert_county_period_period_format")
        ),
        sa.ForeignKeyConstraint(
            ["county_code"], ["region.code"],
            name=op.f("fk_alert_county_period_county_code_region"), ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("county_code", name=op.f("pk_alert_county_period")),
    )  # fmt: skip


def downgrade() -> None:
    op.drop_table("alert_county_period")
    op.drop_index("ix_alert_run_region_code_created_at", table_name="alert_run")
    op.drop_index("uq_alert_run_region_code_period_scheduled", table_name="alert_run")
    op.drop_table("alert_run")
    op.drop_index("ix_alert_household_id", table_name="alert")
    op.drop_index("ix_alert_member_id", table_name="alert")
    op.drop_index("ix_alert_rule_subject", table_name="alert")
    op.drop_index("ix_alert_region_code_created_at", table_name="alert")
    op.drop_index("ix_alert_county_code_rule_current", table_name="alert")
    op.drop_index("uq_alert_rule_subject_current", table_name="alert")
    op.drop_table("alert")
