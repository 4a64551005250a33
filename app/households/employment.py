"""Recording a member's employment for a month and their intent by hand (PUT).

The member must be in the caller's scope; the rows are written, merged and audited by
`app.households.writer`, as a hire's and a visit's are.
"""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from app.core.caller import Principal
from app.core.db import session_driver_connection
from app.households import views, writer
from app.households.models import MemberEmployment, MemberIntent
from app.households.schemas import EmploymentIn, EmploymentOut, IntentIn, IntentOut
from app.households.service import member_in_scope
from app.policy.values import ObservationSource


async def put_employment(
    session: AsyncSession,
    principal: Principal,
    member_id: uuid.UUID,
    period: str,
    body: EmploymentIn,
) -> EmploymentOut:
    member, _ = await member_in_scope(session, principal, member_id)
    row = writer.EmploymentWrite.of(
        principal.actor, member.id, period, body, ObservationSource.manual
    )
    await writer.write_employment(await session_driver_connection(session), [row])
    stored = await session.get(MemberEmployment, (member.id, period), populate_existing=True)
    assert stored is not None
    return views.employment_out(stored)


async def put_intent(
    session: AsyncSession,
    principal: Principal,
    member_id: uuid.UUID,
    body: IntentIn,
) -> IntentOut:
    member, _ = await member_in_scope(session, principal, member_id)
    row = writer.IntentWrite.of(principal.actor, member.id, body, ObservationSource.manual)
    await writer.write_intents(await session_driver_connection(session), [row])
    stored = await session.get(MemberIntent, member.id, populate_existing=True)
    assert stored is not None
    return views.intent_out(stored)
