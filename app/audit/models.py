from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import ARRAY, Index, String, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from app.core.db import Base
from app.core.ids import uuid7


class AuditEvent(Base):
    """One write or sensitive read. Rows are never updated or deleted (a trigger refuses)."""

    __tablename__ = "audit_event"
    __table_args__ = (
        Index("ix_audit_event_entity_entity_id_occurred_at", "entity", "entity_id", "occurred_at"),
        Index("ix_audit_event_actor_id_occurred_at", "actor_id", "occurred_at"),
        Index("ix_audit_event_region_code_occurred_at", "region_code", "occurred_at"),
    )

    # Time-ordered (`app.core.ids`): the log only grows, so new keys go to the index's right
    # edge. Statements that insert without an id get the database's `uuid_v7()`.
    id: Mapped[uuid.UUID] = mapped_column(
        primary_key=True, default=uuid7, server_default=text("uuid_v7()")
    )
    # When written, not when the transaction began: a write that waited on a lock comes after
    # the one it waited for.
    occurred_at: Mapped[datetime] = mapped_column(server_default=text("clock_timestamp()"))
    actor_id: Mapped[uuid.UUID | None]  # None: a system job
    actor_role: Mapped[str] = mapped_column(String(16))
    action: Mapped[str] = mapped_column(String(16))  # create, update, delete, reveal
    entity: Mapped[str] = mapped_column(String(32))
    entity_id: Mapped[uuid.UUID]
    # The village the entity belongs to, so managers read the log within their scope.
    region_code: Mapped[str | None] = mapped_column(String(12))
    changed_fields: Mapped[list[str]] = mapped_column(
        ARRAY(String(64)), default=list, server_default=text("'{}'")
    )
    # Old and new values of ordinary fields; personal data is named in `changed_fields` only.
    changes: Mapped[dict[str, Any]] = mapped_column(
        JSONB, default=dict, server_default=text("'{}'::jsonb")
    )
    reason: Mapped[str | None] = mapped_column(String(500))
    request_id: Mapped[str | None] = mapped_column(String(64))
    client_address: Mapped[str | None] = mapped_column(String(64))
