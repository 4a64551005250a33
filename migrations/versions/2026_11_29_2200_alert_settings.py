"""Alert settings: rule thresholds and the run day per county, monitoring lines and employment
targets by region and year.

Revision ID: 20261129_2200
Revises: 20261129_2130
Create Date: 2026-11-29 22:30:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "20261129_2200"
down_revision: str | None = "20261129_2130"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "alert_rule_setting",
        sa.Column("county_code", sa.String(length=12), nullable=False),
        sa.Column("rule", sa.String(length=32), nullable=False),
        sa.Column("enabled", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        sa.Column(
            "params",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.Column("updated_by", sa.Uuid(), nullable=True),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "jsonb_typeof(params) = 'object'", name=op.f("ck_alert_rule_setting_params_object")
        ),
        sa.CheckConstraint(
            "rule IN ('employment_lost', 'zero_employment_household', 'returned_home', 'unstable_employment', 'income_drop', 'below_monitoring_line', 'intent_unassisted', 'training_overdue', 'visit_overdue', 'subsidy_eligible', 'data_inconsistent', 'region_employment_drop', 'region_behind_target')",
            name=op.f("ck_alert_rule_setting_rule_known"),
        ),
        sa.ForeignKeyConstraint(
            ["county_code"],
            ["region.code"],
            name=op.f("fk_alert_rule_setting_county_code_region"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["updated_by"],
            ["user_account.id"],
            name=op.f("fk_alert_rule_setting_updated_by_user_account"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("county_code", "rule", name=op.f("pk_alert_rule_setting")),
    )
    op.create_table(
        "alert_schedule",
        sa.Column("county_code", sa.String(length=12), nullable=False),
        sa.Column("run_day", sa.SmallInteger(), nullable=False),
        sa.Column("updated_by", sa.Uuid(), nullable=True),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "run_day BETWEEN 1 AND 28", name=op.f("ck_alert_schedule_run_day_range")
        ),
        sa.ForeignKeyConstraint(
            ["county_code"],
            ["region.code"],
            name=op.f("fk_alert_schedule_county_code_region"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["updated_by"],
            ["user_account.id"],
            name=op.f("fk_alert_schedule_updated_by_user_account"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("county_code", name=op.f("pk_alert_schedule")),
    )
    op.create_table(
        "employment_target",
        sa.Column("region_code", sa.String(length=12), nullable=False),
        sa.Column("year", sa.SmallInteger(), nullable=False),
        sa.Column("target", sa.Integer(), nullable=False),
        sa.Column("updated_by", sa.Uuid(), nullable=True),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint("target > 0", name=op.f("ck_employment_target_target_positive")),
        sa.CheckConstraint(
            "year BETWEEN 2000 AND 2100", name=op.f("ck_employment_target_year_range")
        ),
        sa.ForeignKeyConstraint(
            ["region_code"],
            ["region.code"],
            name=op.f("fk_employment_target_region_code_region"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["updated_by"],
            ["user_account.id"],
            name=op.f("fk_employment_target_updated_by_user_account"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("region_code", "year", name=op.f("pk_employment_target")),
    )
    op.create_table(
        "monitoring_line",
        sa.Column("region_code", sa.String(length=12), nullable=False),
        sa.Column("year", sa.SmallInteger(), nullable=False),
        sa.Column("amount", sa.Numeric(precision=12, scale=2), nullable=True),
        sa.Column("dibao", sa.Numeric(precision=12, scale=2), nullable=True),
        sa.Column("dibao_multiple", sa.Numeric(precision=4, scale=2), nullable=True),
        sa.Column("note", sa.String(length=200), nullable=True),
        sa.Column("updated_by", sa.Uuid(), nullable=True),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "(amount IS NOT NULL AND dibao IS NULL AND dibao_multiple IS NULL) OR (amount IS NULL AND dibao IS NOT NULL AND dibao_multiple IS NOT NULL)",
            name=op.f("ck_monitoring_line_amount_or_formula"),
        ),
        sa.CheckConstraint(
            "amount IS NULL OR amount > 0", name=op.f("ck_monitoring_line_amount_positive")
        ),
        sa.CheckConstraint(
            "dibao IS NULL OR dibao > 0", name=op.f("ck_monitoring_line_dibao_positive")
        ),
        sa.CheckConstraint(
            "dibao_multiple IS NULL OR dibao_multiple BETWEEN 0.1 AND 10",
            name=op.f("ck_monitoring_line_dibao_multiple_range"),
        ),
        sa.CheckConstraint(
            "year BETWEEN 2000 AND 2100", name=op.f("ck_monitoring_line_year_range")
        ),
        sa.ForeignKeyConstraint(
            ["region_code"],
            ["region.code"],
            name=op.f("fk_monitoring_line_region_code_region"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["updated_by"],
            ["user_account.id"],
            name=op.f("fk_monitoring_line_updated_by_user_account"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("region_code", "year", name=op.f("pk_monitoring_line")),
    )


def downgrade() -> None:
    op.drop_table("monitoring_line")
    op.drop_table("employment_target")
    op.drop_table("alert_schedule")
    op.drop_table("alert_rule_setting")
