"""A county's registry settings: the cap on full ID-number reveals per manager.

Revision ID: 20261129_2120
Revises: 20261129_2110
Create Date: 2026-11-30 04:00:52.383863+08:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "20261129_2120"
down_revision: str | None = "20261129_2110"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "registry_setting",
        sa.Column("county_code", sa.String(length=12), nullable=False),
        sa.Column("id_reveal_max", sa.Integer(), nullable=False),
        sa.Column("updated_by", sa.Uuid(), nullable=True),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "id_reveal_max BETWEEN 0 AND 1000", name=op.f("ck_registry_setting_id_reveal_max_range")
        ),
        sa.ForeignKeyConstraint(
            ["county_code"],
            ["region.code"],
            name=op.f("fk_registry_setting_county_code_region"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["updated_by"],
            ["user_account.id"],
            name=op.f("fk_registry_setting_updated_by_user_account"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("county_code", name=op.f("pk_registry_setting")),
    )


def downgrade() -> None:
    op.drop_table("registry_setting")
