"""What waits for a member of staff (`GET /me/tasks`): open help requests, overdue first, then
by nearest deadline, then those with no deadline running, oldest first."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy import case, func
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.caller import Principal, Role
from app.core.pagination import PageRequest, keyset, keyset_key, next_cursor
from app.help_requests.models import HelpRequest, HelpStatus
from app.help_requests.schemas import TaskOut
from app.help_requests.views import request_out, visible, with_member_name

S = HelpStatus
# A coordinator's: those of their villages their village handles; a manager's: every open
# request of their region, referred ones included.
_COORDINATOR_WAITING = (S.submitted, S.accepted, S.in_progress)
_MANAGER_WAITING = (S.submitted, S.referred, S.accepted, S.in_progress)


async def my_tasks(
    session: AsyncSession, principal: Principal, page: PageRequest
) -> tuple[list[TaskOut], str | None]:
    waiting = _COORDINATOR_WAITING if principal.role is Role.coordinator else _MANAGER_WAITING
    # Ordered by (no deadline, deadline or filing time, id): overdue requests have the
    # earliest deadlines, so they come first.
    undated = case((HelpRequest.due_at.is_(None), 1), else_=0).label("undated")
    sort_at = func.coalesce(HelpRequest.due_at, HelpRequest.created_at).label("sort_at")
    statement = with_member_name().add_columns(undated, sort_at)
    statement = statement.where(
        visible(principal), HelpRequest.status.in_([s.value for s in waiting])
    )
    if principal.role is Role.coordinator:
        statement = statement.where(HelpRequest.routed_to == HelpRequest.village_code)
    statement = keyset(
        statement,
        [undated, sort_at, HelpRequest.id],
        [int, datetime.fromisoformat, uuid.UUID],
        page,
        descending=False,
    )
    rows = list((await session.execute(statement)).all())
    rows, cursor = next_cursor(rows, page.limit, lambda row: keyset_key(row[2], row[3], row[0].id))
    now = datetime.now(UTC)
    items = []
    for request, name, _, _ in rows:
        out = request_out(request, name, now)
        state = out.deadline.state if out.deadline else None
        items.append(
            TaskOut(
                due_at=request.due_at,
                overdue=state == "overdue",
                due_soon=state == "due_soon",
                help_request=out,
            )
        )
    return items, cursor
