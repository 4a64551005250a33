from __future__ import annotations

from sqlalchemy import CheckConstraint, Float, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from app.core.db import Base, Timestamps


class Region(Timestamps, Base):
    __tablename__ = "region"
    __table_args__ = (
        CheckConstraint("code ~ '^[0-9]{12}$'", name="code_digits"),
        CheckConstraint(
            "level IN ('province', 'city', 'county', 'township', 'village')", name="level_known"
        ),
        Index("ix_region_parent_code_code", "parent_code", "code"),
    )

    code: Mapped[str] = mapped_column(String(12), primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    level: Mapped[str] = mapped_column(String(16))
    parent_code: Mapped[str | None] = mapped_column(
        String(12), ForeignKey("region.code", ondelete="RESTRICT")
    )
    # A village's recorded centre (WGS-84), against which visit locations are checked.
    centre_lat: Mapped[float | None] = mapped_column(Float)
    centre_lon: Mapped[float | None] = mapped_column(Float)
