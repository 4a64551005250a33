"""Household visits, and village centres to check where visits were logged.

Revision ID: 20261122_1900
Revises: 20261122_1741
Create Date: 2026-11-23 02:54:01.614800+08:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "20261122_1900"
down_revision: str | None = "20261122_1741"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "visit",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("household_id", sa.Uuid(), nullable=False),
        sa.Column("coordinator_id", sa.Uuid(), nullable=False),
        sa.Column("village_code", sa.String(length=12), nullable=False),
        sa.Column("visited_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("method", sa.String(length=16), nullable=False),
        sa.Column("lat", sa.Float(), nullable=True),
        sa.Column("lon", sa.Float(), nullable=True),
        sa.Column(
            "distance_m",
            sa.Integer(),
            nullable=True,
            comment="Metres from the village centre, when both are known",
        ),
        sa.Column("needs_review", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("notes", sa.Text(), server_default=sa.text("''"), nullable=False),
        sa.Column("request_hash", sa.String(length=64), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "method IN ('in_person', 'phone', 'wechat')", name=op.f("ck_visit_method_known")
        ),
        sa.CheckConstraint(
            "(lat IS NULL) = (lon IS NULL)", name=op.f("ck_visit_location_complete")
        ),
        sa.ForeignKeyConstraint(
            ["coordinator_id"],
            ["user_account.id"],
            name=op.f("fk_visit_coordinator_id_user_account"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["household_id"],
            ["household.id"],
            name=op.f("fk_visit_household_id_household"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_visit")),
    )
    op.create_index(
        "ix_visit_coordinator_id_visited_at",
        "visit",
        ["coordinator_id", "visited_at"],
        unique=False,
    )
    op.create_index(
        "ix_visit_household_id_visited_at", "visit", ["household_id", "visited_at"], unique=False
    )
    op.create_index(
        "ix_visit_village_code_visited_at", "visit", ["village_code", "visited_at"], unique=False
    )
    op.add_column("region", sa.Column("centre_lat", sa.Float(), nullable=True))
    op.add_column("region", sa.Column("centre_lon", sa.Float(), nullable=True))


def downgrade() -> None:
    op.drop_column("region", "centre_lon")
    op.drop_column("region", "centre_lat")
    op.drop_index("ix_visit_village_code_visited_at", table_name="visit")
    op.drop_index("ix_visit_household_id_visited_at", table_name="visit")
    op.drop_index("ix_visit_coordinator_id_visited_at", table_name="visit")
    op.drop_table("visit")
