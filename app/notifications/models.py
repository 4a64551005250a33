"""The notification outbox, which is also the in-app inbox, and WeChat subscription quotas.

One row per recipient and event. It is written in the transaction of the event that causes it
(`outbox.notify`), read by its recipient as the inbox, and carries the state of its delivery
over WeChat (`delivery.py`): the inbox never depends on WeChat.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
    Text,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from app.core.db import Base, one_of


class WeChatState(StrEnum):
    """Where a notification's WeChat message stands. Only `pending` and `sending` move on."""

    pending = "pending"  # waiting for the delivery job (or for its retry time)
    sending = "sending"  # an attempt is recorded and its call may be under way
    sent = "sent"  # WeChat accepted it
    inbox_only = "inbox_only"  # not sent, by design: no openid, no template, no quota (43101)
    failed = "failed"  # WeChat refused it, or transient failures outlasted the attempts
    unknown = "unknown"  # an attempt whose outcome was lost (crash, timeout): never resent


class Notification(Base):
    __tablename__ = "notification"
    __table_args__ = (
        CheckConstraint(one_of("wechat_state", WeChatState), name="wechat_state_known"),
        CheckConstraint("wechat_attempts >= 0", name="wechat_attempts_non_negative"),
        # The inbox: a recipient's newest first, and the unread among them.
        Index("ix_notification_recipient_id_created_at_id", "recipient_id", "created_at", "id"),
        Index(
            "ix_notification_recipient_id_unread",
            "recipient_id",
            postgresql_where=text("read_at IS NULL"),
        ),
        # The delivery job claims by due time; the sweep finds attempts left hanging.
        Index(
            "ix_notification_wechat_due_at_pending",
            "wechat_due_at",
            postgresql_where=text("wechat_state = 'pending'"),
        ),
        Index(
            "ix_notification_wechat_attempt_at_sending",
            "wechat_attempt_at",
            postgresql_where=text("wechat_state = 'sending'"),
        ),
    )

    # Ids from the server: `notify` writes many rows in one INSERT … SELECT.
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, server_default=func.gen_random_uuid())
    recipient_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("user_account.id", ondelete="CASCADE")
    )
    # What happened, e.g. `help_request.accepted`: picks the WeChat template (configuration).
    event: Mapped[str] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(String(100))
    body: Mapped[str] = mapped_column(Text)
    # A mini-program page to open, e.g. `pages/help/detail?id=…`.
    link: Mapped[str | None] = mapped_column(String(255))
    # Values for the template's fields beyond title and body, by name.
    fields: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default=text("'{}'::jsonb"))
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
    read_at: Mapped[datetime | None]

    wechat_state: Mapped[str] = mapped_column(
        String(16), server_default=text(f"'{WeChatState.pending.value}'")
    )
    wechat_due_at: Mapped[datetime] = mapped_column(server_default=func.now())
    wechat_attempts: Mapped[int] = mapped_column(SmallInteger, server_default=text("0"))
    # When the last attempt was recorded, committed before its call to WeChat.
    wechat_attempt_at: Mapped[datetime | None]
    wechat_sent_at: Mapped[datetime | None]
    # Why it was not sent, or the last failure: `no_openid`, `no_template`, `no_quota`,
    # `errcode 43101`, `http 502`…
    wechat_error: Mapped[str | None] = mapped_column(String(64))


class NotificationSubscription(Base):
    """One-time subscriptions a user accepted in the mini-program, per template: each allows
    one message (WeChat's rule), spent when an attempt is recorded, given back when WeChat
    certainly did not deliver it."""

    __tablename__ = "notification_subscription"
    __table_args__ = (CheckConstraint("remaining >= 0", name="remaining_non_negative"),)

    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("user_account.id", ondelete="CASCADE"), primary_key=True
    )
    template_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    remaining: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    updated_at: Mapped[datetime] = mapped_column(server_default=func.now())
