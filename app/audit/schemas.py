from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from app.core.pagination import Page


class AuditEventOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    occurred_at: datetime
    actor_id: uuid.UUID | None = Field(description="None for system jobs.")
    actor_role: str
    action: str = Field(description="`create`, `update`, `delete` or `reveal`.")
    entity: str
    entity_id: uuid.UUID
    region_code: str | None
    changed_fields: list[str] = Field(description="Personal-data fields are named, never valued.")
    changes: dict[str, Any] = Field(description="`{field: {old, new}}` for ordinary fields.")
    reason: str | None
    request_id: str | None
    client_address: str | None


class AuditEventPage(Page[AuditEventOut]):
    """A page of audit events, newest first."""
