"""Writing a member's employment for a month and their intent, each change audited.

A PUT of either first checks that the member is in the caller's scope; a hire
(`app.jobs.pushes`) writes the month's employment through `write_employment` on the push's
authority. The stored columns come from `app.households.updates`.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit import service as audit
from app.core.caller import Actor, Principal
from app.households import views
from app.households.models import MemberEmployment, MemberIntent
from app.households.schemas import EmploymentIn, EmploymentOut, IntentIn, IntentOut
from app.households.service import member_in_scope
from app.households.updates import employment_values, intent_values
from app.policy.values import ObservationSource


def _assign(row: Any, values: dict[str, Any], unaudited: tuple[str, ...] = ()) -> dict[str, Any]:
    """Set `values` on `row` (new or loaded); the (old, new) pairs that changed, for the audit."""
    changes = {
        key: (getattr(row, key), value)
        for key, value in values.items()
        if key not in unaudited and getattr(row, key) != value
    }
    for key, value in values.items():
        setattr(row, key, value)
    return changes


async def put_employment(
    session: AsyncSession,
    principal: Principal,
    actor: Actor,
    member_id: uuid.UUID,
    period: str,
    body: EmploymentIn,
    source: ObservationSource = ObservationSource.manual,
) -> EmploymentOut:
    _, household = await member_in_scope(session, principal, member_id)
    row = await write_employment(
        session, actor, member_id, household.village_code, period, body, source
    )
    return views.employment_out(row)


# What to write for a month, given its row as it stands (None when there is none yet).
EmploymentFor = Callable[[MemberEmployment | None], EmploymentIn]


async def write_employment(
    session: AsyncSession,
    actor: Actor,
    member_id: uuid.UUID,
    village_code: str,
    period: str,
    body: EmploymentIn | EmploymentFor,
    source: ObservationSource = ObservationSource.manual,
) -> MemberEmployment:
    """Writes a member's employment for a month and audits it (a new month names its period;
    a month that had a row gives old → new of what changed) in `village_code`, the village the
    member lives in. No scope check: the caller has established that this write is theirs to
    make (`put_employment`: the member is in their scope; a hire: the push is).

    `body` may be a function of the month's row as it stands, under its lock: a hire keeps the
    months and income already recorded.

    The month's row is read under its lock. When there is none, it is inserted, unless another
    request inserted it since (ON CONFLICT DO NOTHING waits for that request to commit): then
    it is read again, locked, and updated, so the second of two first writes of a month is an
    update whose old values are the first's, never a unique violation."""
    now = datetime.now(UTC)

    def values_for(row: MemberEmployment | None) -> dict[str, Any]:
        wanted = body if isinstance(body, EmploymentIn) else body(row)
        return employment_values(wanted, source, now)

    key = (member_id, period)
    action = "update"
    changes: dict[str, tuple[Any, Any]] = {}
    row = await session.get(MemberEmployment, key, with_for_update=True)
    while row is None:
        values = values_for(None)
        row = await session.scalar(
            insert(MemberEmployment)
            .values(member_id=member_id, period=period, updated_at=now, **values)
            .on_conflict_do_nothing(
                index_elements=[MemberEmployment.member_id, MemberEmployment.period]
            )
            .returning(MemberEmployment)
        )
        if row is not None:
            action = "create"
            changes = {
                "period": (None, period),
                **{
                    field: (None, value)
                    for field, value in values.items()
                    if field != "observed_at" and value is not None
                },
            }
        else:  # another request wrote the month's first row since our read, and has committed
            row = await session.get(MemberEmployment, key, with_for_update=True)
    if action == "update":
        changes = _assign(row, values_for(row), unaudited=("observed_at",))
        row.updated_at = now
        await session.flush()
    audit.record(
        session,
        actor,
        action=action,
        entity="member_employment",
        entity_id=member_id,
        region_code=village_code,
        changes=changes,
    )
    return row


async def put_intent(
    session: AsyncSession,
    principal: Principal,
    actor: Actor,
    member_id: uuid.UUID,
    body: IntentIn,
    source: ObservationSource = ObservationSource.manual,
) -> IntentOut:
    member, household = await member_in_scope(session, principal, member_id)
    row = await session.get(MemberIntent, member.id, with_for_update=True)
    values = intent_values(body, source)
    action = "update" if row is not None else "create"
    if row is None:
        row = MemberIntent(member_id=member.id)
        session.add(row)
    changes = _assign(row, values)
    row.observed_at = row.updated_at = datetime.now(UTC)
    await session.flush()
    audit.record(
        session,
        actor,
        action=action,
        entity="member_intent",
        entity_id=member.id,
        region_code=household.village_code,
        changes=changes,
    )
    return views.intent_out(row)
