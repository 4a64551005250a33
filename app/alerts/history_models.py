"""The per-member employment history row (`app.alerts.history` says what each field holds)."""

from __future__ import annotations

import uuid

from sqlalchemy import ARRAY, BigInteger, CheckConstraint, ForeignKey, Integer
from sqlalchemy.orm import Mapped, mapped_column

from app.core.db import Base


class MemberEmploymentHistory(Base):
    """One labourer's last three calendar years of employment, as bitmasks by month."""

    __tablename__ = "member_employment_history"
    __table_args__ = (CheckConstraint("base % 12 = 0", name="base_january"),)

    member_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("member.id", ondelete="CASCADE"), primary_key=True
    )
    base: Mapped[int] = mapped_column(Integer)
    recorded: Mapped[int] = mapped_column(BigInteger)
    working: Mapped[int] = mapped_column(BigInteger)
    away: Mapped[int] = mapped_column(BigInteger)
    flexible: Mapped[int] = mapped_column(BigInteger)
    farming: Mapped[int] = mapped_column(BigInteger)
    changed: Mapped[int] = mapped_column(BigInteger)
    employers: Mapped[list[int]] = mapped_column(ARRAY(Integer))
    ytd: Mapped[list[int]] = mapped_column(ARRAY(BigInteger))
