"""Data checks: what each rule found per household or member, and the exemptions per rule.

Revision ID: 20261129_1920
Revises: 20261129_1910
Create Date: 2026-11-30 03:01:53.226795+08:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "20261129_1920"
down_revision: str | None = "20261129_1910"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "data_check_finding",
        sa.Column("rule", sa.String(length=40), nullable=False),
        sa.Column("household_id", sa.Uuid(), nullable=False),
        sa.Column("member_id", sa.Uuid(), nullable=True),
        sa.Column("village_code", sa.String(length=12), nullable=False),
        sa.Column("period", sa.String(length=7), nullable=True),
        sa.Column(
            "details",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.Column(
            "first_found_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "last_found_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.CheckConstraint(
            "rule IN ('working_without_workplace', 'working_without_months', 'local_post_outside_county', 'working_without_labour', 'household_head_count', 'phone_not_11_digits', 'minor_on_welfare_post', 'unstable_work_without_labour')",
            name=op.f("ck_data_check_finding_rule_known"),
        ),
        sa.ForeignKeyConstraint(
            ["household_id"],
            ["household.id"],
            name=op.f("fk_data_check_finding_household_id_household"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["member_id"],
            ["member.id"],
            name=op.f("fk_data_check_finding_member_id_member"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_data_check_finding")),
        sa.UniqueConstraint(
            "rule",
            "household_id",
            "member_id",
            name=op.f("uq_data_check_finding_rule_household_id_member_id"),
            postgresql_nulls_not_distinct=True,
        ),
    )
    op.create_index(
        op.f("ix_data_check_finding_member_id"), "data_check_finding", ["member_id"], unique=False
    )
    op.create_index(
        "ix_data_check_finding_village_code_household_id",
        "data_check_finding",
        ["village_code", "household_id"],
        unique=False,
    )
    op.create_table(
        "data_check_exemption",
        sa.Column("rule", sa.String(length=40), nullable=False),
        sa.Column("household_id", sa.Uuid(), nullable=False),
        sa.Column("member_id", sa.Uuid(), nullable=True),
        sa.Column("reason", sa.String(length=200), nullable=False),
        sa.Column("created_by", sa.Uuid(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.CheckConstraint(
            "rule IN ('working_without_workplace', 'working_without_months', 'local_post_outside_county', 'working_without_labour', 'household_head_count', 'phone_not_11_digits', 'minor_on_welfare_post', 'unstable_work_without_labour')",
            name=op.f("ck_data_check_exemption_rule_known"),
        ),
        sa.ForeignKeyConstraint(
            ["created_by"],
            ["user_account.id"],
            name=op.f("fk_data_check_exemption_created_by_user_account"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["household_id"],
            ["household.id"],
            name=op.f("fk_data_check_exemption_household_id_household"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["member_id"],
            ["member.id"],
            name=op.f("fk_data_check_exemption_member_id_member"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_data_check_exemption")),
        sa.UniqueConstraint(
            "rule",
            "household_id",
            "member_id",
            name=op.f("uq_data_check_exemption_rule_household_id_member_id"),
            postgresql_nulls_not_distinct=True,
        ),
    )
    op.create_index(
        "ix_data_check_exemption_household_id",
        "data_check_exemption",
        ["household_id"],
        unique=False,
    )
    op.create_index(
        op.f("ix_data_check_exemption_member_id"),
        "data_check_exemption",
        ["member_id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_data_check_exemption_member_id"), table_name="data_check_exemption")
    op.drop_index("ix_data_check_exemption_household_id", table_name="data_check_exemption")
    op.drop_table("data_check_exemption")
    op.drop_index(
        "ix_data_check_finding_village_code_household_id", table_name="data_check_finding"
    )
    op.drop_index(op.f("ix_data_check_finding_member_id"), table_name="data_check_finding")
    op.drop_table("data_check_finding")
