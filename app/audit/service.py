"""Recording audit events in the same transaction as the change they describe."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.models import AuditEvent
from app.core.caller import Actor
from app.core.pagination import PageRequest, newest_first, newest_first_key, next_cursor
from app.core.scope import Scope, ScopeKind, apply_scope


def _plain(value: Any) -> Any:
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def record(
    session: AsyncSession,
    actor: Actor,
    *,
    action: str,
    entity: str,
    entity_id: uuid.UUID,
    region_code: str | None,
    changes: dict[str, tuple[Any, Any]] | None = None,
    personal_fields: list[str] | tuple[str, ...] = (),
    reason: str | None = None,
) -> AuditEvent:
    """`changes` maps an ordinary field to (old, new); `personal_fields` are only named."""
    changes = changes or {}
    event = AuditEvent(
        actor_id=actor.user_id,
        actor_role=actor.role,
        action=action,
        entity=entity,
        entity_id=entity_id,
        region_code=region_code,
        changed_fields=sorted({*changes, *personal_fields}),
        changes={
            field: {"old": _plain(old), "new": _plain(new)} for field, (old, new) in changes.items()
        },
        reason=reason,
        request_id=actor.request_id,
        client_address=actor.client_address,
    )
    session.add(event)
    return event


@dataclass(frozen=True, slots=True)
class EventFilters:
    entity: str | None = None
    entity_id: uuid.UUID | None = None
    actor_id: uuid.UUID | None = None
    occurred_from: datetime | None = None
    occurred_to: datetime | None = None


async def list_events(
    session: AsyncSession, scope: Scope, filters: EventFilters, page: PageRequest
) -> tuple[list[AuditEvent], str | None]:
    """Events within `scope`, newest first."""
    statement = select(AuditEvent)
    if scope.kind is not ScopeKind.everything:
        statement = apply_scope(statement, AuditEvent.region_code, scope)
    conditions = {
        AuditEvent.entity: filters.entity,
        AuditEvent.entity_id: filters.entity_id,
        AuditEvent.actor_id: filters.actor_id,
    }
    statement = statement.where(
        *(column == value for column, value in conditions.items() if value is not None)
    )
    if filters.occurred_from:
        statement = statement.where(AuditEvent.occurred_at >= filters.occurred_from)
    if filters.occurred_to:
        statement = statement.where(AuditEvent.occurred_at < filters.occurred_to)
    statement = newest_first(statement, AuditEvent.occurred_at, AuditEvent.id, page)
    rows = list((await session.scalars(statement)).all())
    return next_cursor(rows, page.limit, lambda e: newest_first_key(e.occurred_at, e.id))
