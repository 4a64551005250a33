from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Query

from app.audit.schemas import AuditEventOut, AuditEventPage
from app.audit.service import EventFilters, list_events
from app.core.auth import Manager
from app.core.deps import Pagination, ReadSession
from app.core.routing import api_router, instant_from, instant_to
from app.core.types import Instant, Text

router = api_router("/audit-events", tags=["audit"])


@router.get("", summary="Read the audit log", name="list", response_model=AuditEventPage)
async def list_audit_events(
    caller: Manager,
    session: ReadSession,
    page: Pagination,
    entity: Annotated[Text | None, Query(description="e.g. `member`, `household`")] = None,
    id: Annotated[uuid.UUID | None, Query(description="The entity's id")] = None,
    actor: Annotated[uuid.UUID | None, Query(description="The acting account's id")] = None,
    from_: Annotated[Instant | None, instant_from("Occurred")] = None,
    to: Annotated[Instant | None, instant_to("Occurred")] = None,
) -> AuditEventPage:
    """Writes and personal-data reveals within your regions, newest first. Managers and
    admins only."""
    filters = EventFilters(
        entity=entity, entity_id=id, actor_id=actor, occurred_from=from_, occurred_to=to
    )
    items, cursor = await list_events(session, caller.scope, filters, page)
    return AuditEventPage(
        items=[AuditEventOut.model_validate(e) for e in items], next_cursor=cursor
    )
