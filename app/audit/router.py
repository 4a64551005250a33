from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from fastapi import Query
from sqlalchemy import and_, or_

from app.audit.models import AuditEvent
from app.audit.schemas import AuditEventOut
from app.audit.service import scoped_events
from app.auth.deps import AUTHENTICATED_RESPONSES, Manager
from app.core.db import Session
from app.core.errors import Forbidden, problem_responses
from app.core.pagination import Page, Pagination, next_cursor
from app.core.routing import api_router

router = api_router(
    "/audit-events",
    tags=["audit"],
    responses={**AUTHENTICATED_RESPONSES, **problem_responses(Forbidden)},
)


@router.get("", summary="Read the audit log", response_model=Page[AuditEventOut])
async def list_audit_events(
    caller: Manager,
    session: Session,
    page: Pagination,
    entity: Annotated[str | None, Query(description="e.g. `member`, `household`")] = None,
    id: Annotated[uuid.UUID | None, Query(description="The entity's id")] = None,
    actor: Annotated[uuid.UUID | None, Query(description="The acting account's id")] = None,
    from_: Annotated[datetime | None, Query(alias="from", description="Inclusive")] = None,
    to: Annotated[datetime | None, Query(description="Exclusive")] = None,
) -> Page[AuditEventOut]:
    """Writes and personal-data reveals within your regions, newest first. Managers and
    admins only."""
    statement = scoped_events(caller.scope).order_by(
        AuditEvent.occurred_at.desc(), AuditEvent.id.desc()
    )
    if entity:
        statement = statement.where(AuditEvent.entity == entity)
    if id:
        statement = statement.where(AuditEvent.entity_id == id)
    if actor:
        statement = statement.where(AuditEvent.actor_id == actor)
    if from_:
        statement = statement.where(AuditEvent.occurred_at >= from_)
    if to:
        statement = statement.where(AuditEvent.occurred_at < to)
    if page.after:
        at, last_id = datetime.fromisoformat(page.after[0]), uuid.UUID(page.after[1])
        statement = statement.where(
            or_(
                AuditEvent.occurred_at < at,
                and_(AuditEvent.occurred_at == at, AuditEvent.id < last_id),
            )
        )
    rows = list((await session.scalars(statement.limit(page.limit + 1))).all())
    items, cursor = next_cursor(rows, page.limit, lambda e: [e.occurred_at.isoformat(), str(e.id)])
    return Page[AuditEventOut](
        items=[AuditEventOut.model_validate(e) for e in items], next_cursor=cursor
    )
