from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, LargeBinary, String, text
from sqlalchemy.orm import Mapped, mapped_column

# The account's role and kind are the caller's (`app.core.caller`); re-exported beside the table.
from app.core.caller import AccountKind as AccountKind
from app.core.caller import Role as Role
from app.core.db import Base, Timestamps, UUIDPrimaryKey


class UserAccount(UUIDPrimaryKey, Timestamps, Base):
    __tablename__ = "user_account"
    __table_args__ = (
        CheckConstraint(
            "role IN ('villager', 'coordinator', 'manager', 'admin')", name="role_known"
        ),
        CheckConstraint("kind IN ('person', 'client')", name="kind_known"),
        CheckConstraint("kind = 'person' OR role = 'manager'", name="client_is_manager"),
        Index(
            "ix_user_account_phone_index",
            "phone_index",
            unique=True,
            postgresql_where=text("phone_index IS NOT NULL AND role <> 'villager'"),
        ),
    )

    kind: Mapped[str] = mapped_column(String(8), default=AccountKind.person)
    role: Mapped[str] = mapped_column(String(16))
    # Login name for the password grant; the client_id for API clients.
    username: Mapped[str | None] = mapped_column(String(64), unique=True)
    # argon2 hash of the password (people) or of the client secret (API clients).
    secret_hash: Mapped[str | None] = mapped_column(String(255))
    display_name: Mapped[str] = mapped_column(String(64), default="")
    phone_cipher: Mapped[bytes | None] = mapped_column(LargeBinary)
    phone_index: Mapped[bytes | None] = mapped_column(LargeBinary)
    wechat_openid: Mapped[str | None] = mapped_column(String(64), unique=True)
    wechat_unionid: Mapped[str | None] = mapped_column(String(64))
    # A villager's own member record, once their phone matched it.
    member_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("member.id", ondelete="SET NULL"), unique=True
    )
    is_active: Mapped[bool] = mapped_column(default=True, server_default=text("true"))
    # Access tokens issued before this instant are refused ("log out everywhere", disabling).
    tokens_valid_after: Mapped[datetime | None]
    last_login_at: Mapped[datetime | None]


class UserRegion(Base):
    """The regions a user works in: a manager's one region, a coordinator's villages."""

    __tablename__ = "user_region"

    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("user_account.id", ondelete="CASCADE"), primary_key=True
    )
    region_code: Mapped[str] = mapped_column(
        String(12), ForeignKey("region.code", ondelete="RESTRICT"), primary_key=True, index=True
    )


class RefreshToken(UUIDPrimaryKey, Base):
    """One link of a rotation chain; all links of one login share a `family_id`."""

    __tablename__ = "refresh_token"

    family_id: Mapped[uuid.UUID] = mapped_column(index=True)
    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("user_account.id", ondelete="CASCADE"), index=True
    )
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    parent_id: Mapped[uuid.UUID | None]
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime] = mapped_column(index=True)
    spent_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
    revoked_reason: Mapped[str | None] = mapped_column(String(32))
