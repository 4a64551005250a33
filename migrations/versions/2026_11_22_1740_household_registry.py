"""The household registry: households, members (personal data encrypted), monthly
employment and intent; a villager account may point at its member.

Revision ID: 20261122_1740
Revises: 20261122_1731
Create Date: 2026-11-22 17:40
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "20261122_1740"
down_revision: str | None = "20261122_1731"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "household",
        sa.Column("household_no", sa.String(length=32), nullable=False),
        sa.Column("village_code", sa.String(length=12), nullable=False),
        sa.Column("category", sa.String(length=8), nullable=False),
        sa.Column("monitor_type", sa.String(length=16), nullable=True),
        sa.Column(
            "risk_types",
            sa.ARRAY(sa.String(length=16)),
            server_default=sa.text("'{}'"),
            nullable=False,
        ),
        sa.Column("risk_eliminated", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("relocated", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("income_per_capita", sa.Numeric(precision=12, scale=2), nullable=True),
        sa.Column("version", sa.Integer(), server_default=sa.text("1"), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "category IN ('脱贫户', '监测户', '一般农户')", name=op.f("ck_household_category_known")
        ),
        sa.CheckConstraint(
            "monitor_type IS NULL OR monitor_type IN ('脱贫不稳定户', '边缘易致贫户', '突发严重困难户')",
            name=op.f("ck_household_monitor_type_known"),
        ),
        sa.ForeignKeyConstraint(
            ["village_code"],
            ["region.code"],
            name=op.f("fk_household_village_code_region"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_household")),
        sa.UniqueConstraint("household_no", name=op.f("uq_household_household_no")),
    )
    op.create_index(
        "ix_household_village_code_household_no",
        "household",
        ["village_code", "household_no"],
        unique=False,
    )
    op.create_table(
        "member",
        sa.Column("household_id", sa.Uuid(), nullable=False),
        sa.Column("member_no", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("id_number_cipher", sa.LargeBinary(), nullable=False),
        sa.Column("id_number_index", sa.LargeBinary(), nullable=False),
        sa.Column("phone_cipher", sa.LargeBinary(), nullable=True),
        sa.Column("phone_index", sa.LargeBinary(), nullable=True),
        sa.Column("relation", sa.String(length=16), nullable=False),
        sa.Column("labour_type", sa.String(length=16), nullable=False),
        sa.Column(
            "skills", sa.ARRAY(sa.String(length=32)), server_default=sa.text("'{}'"), nullable=False
        ),
        sa.Column("in_school", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("disability", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("version", sa.Integer(), server_default=sa.text("1"), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "labour_type IN ('普通劳动力', '技能劳动力', '弱劳动力或半劳动力', '丧失劳动力', '无劳动力')",
            name=op.f("ck_member_labour_type_known"),
        ),
        sa.ForeignKeyConstraint(
            ["household_id"],
            ["household.id"],
            name=op.f("fk_member_household_id_household"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_member")),
        sa.UniqueConstraint("id_number_index", name=op.f("uq_member_id_number_index")),
        sa.UniqueConstraint("member_no", name=op.f("uq_member_member_no")),
    )
    op.create_index(op.f("ix_member_household_id"), "member", ["household_id"], unique=False)
    op.create_index(
        "ix_member_name_pattern",
        "member",
        ["name"],
        unique=False,
        postgresql_ops={"name": "varchar_pattern_ops"},
    )
    op.create_index(op.f("ix_member_phone_index"), "member", ["phone_index"], unique=False)
    op.create_table(
        "member_employment",
        sa.Column("member_id", sa.Uuid(), nullable=False),
        sa.Column("period", sa.String(length=7), nullable=False),
        sa.Column("status", sa.String(length=8), nullable=False),
        sa.Column("work_region", sa.String(length=8), nullable=True),
        sa.Column("channel", sa.String(length=16), nullable=True),
        sa.Column("employer", sa.String(length=128), nullable=True),
        sa.Column("months", sa.SmallInteger(), server_default=sa.text("0"), nullable=False),
        sa.Column("income", sa.Numeric(precision=12, scale=2), nullable=True),
        sa.Column("source", sa.String(length=8), nullable=False),
        sa.Column("observed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "channel IS NULL OR channel IN ('外出务工', '公益性岗位', '就业帮扶车间', '灵活就业', '自主创业', '务农')",
            name=op.f("ck_member_employment_channel_known"),
        ),
        sa.CheckConstraint(
            "period ~ '^[0-9]{4}-(0[1-9]|1[0-2])$'", name=op.f("ck_member_employment_period_format")
        ),
        sa.CheckConstraint(
            "source IN ('feed', 'visit', 'manual')", name=op.f("ck_member_employment_source_known")
        ),
        sa.CheckConstraint(
            "status IN ('务工', '未务工')", name=op.f("ck_member_employment_status_known")
        ),
        sa.CheckConstraint(
            "work_region IS NULL OR work_region IN ('省外', '省内县外', '县内')",
            name=op.f("ck_member_employment_work_region_known"),
        ),
        sa.CheckConstraint(
            "months BETWEEN 0 AND 12", name=op.f("ck_member_employment_months_range")
        ),
        sa.ForeignKeyConstraint(
            ["member_id"],
            ["member.id"],
            name=op.f("fk_member_employment_member_id_member"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("member_id", "period", name=op.f("pk_member_employment")),
    )
    op.create_index(
        "ix_member_employment_period_status",
        "member_employment",
        ["period", "status"],
        unique=False,
    )
    op.create_table(
        "member_intent",
        sa.Column("member_id", sa.Uuid(), nullable=False),
        sa.Column("intent", sa.String(length=8), nullable=False),
        sa.Column("reason", sa.String(length=200), nullable=True),
        sa.Column(
            "training_needs",
            sa.ARRAY(sa.String(length=32)),
            server_default=sa.text("'{}'"),
            nullable=False,
        ),
        sa.Column(
            "wanted_job_types",
            sa.ARRAY(sa.String(length=32)),
            server_default=sa.text("'{}'"),
            nullable=False,
        ),
        sa.Column("source", sa.String(length=8), nullable=False),
        sa.Column("observed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "intent <> '无意愿' OR coalesce(btrim(reason), '') <> ''",
            name=op.f("ck_member_intent_no_intent_has_reason"),
        ),
        sa.CheckConstraint(
            "intent IN ('外出', '就近', '无意愿')", name=op.f("ck_member_intent_intent_known")
        ),
        sa.CheckConstraint(
            "source IN ('feed', 'visit', 'manual')", name=op.f("ck_member_intent_source_known")
        ),
        sa.ForeignKeyConstraint(
            ["member_id"],
            ["member.id"],
            name=op.f("fk_member_intent_member_id_member"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("member_id", name=op.f("pk_member_intent")),
    )
    op.create_index(op.f("ix_member_intent_intent"), "member_intent", ["intent"], unique=False)
    op.add_column("user_account", sa.Column("member_id", sa.Uuid(), nullable=True))
    op.create_unique_constraint(op.f("uq_user_account_member_id"), "user_account", ["member_id"])
    op.create_foreign_key(
        op.f("fk_user_account_member_id_member"),
        "user_account",
        "member",
        ["member_id"],
        ["id"],
        ondelete="SET NULL",
    )


def downgrade() -> None:
    op.drop_constraint(op.f("fk_user_account_member_id_member"), "user_account", type_="foreignkey")
    op.drop_constraint(op.f("uq_user_account_member_id"), "user_account", type_="unique")
    op.drop_column("user_account", "member_id")
    op.drop_index(op.f("ix_member_intent_intent"), table_name="member_intent")
    op.drop_table("member_intent")
    op.drop_index("ix_member_employment_period_status", table_name="member_employment")
    op.drop_table("member_employment")
    op.drop_index(op.f("ix_member_phone_index"), table_name="member")
    op.drop_index(
        "ix_member_name_pattern",
        table_name="member",
        postgresql_ops={"name": "varchar_pattern_ops"},
    )
    op.drop_index(op.f("ix_member_household_id"), table_name="member")
    op.drop_table("member")
    op.drop_index("ix_household_village_code_household_no", table_name="household")
    op.drop_table("household")
