"""Reconciliation items: listing them in the caller's scope, and resolving them.

The apply pipeline opens the items (`feed_conflict`); here a township or county user settles
one, in one transaction with its effect and its audit row:

- `theirs`: the feed's value becomes our working copy (source `feed`, observed when the feed's
  record changed). Nothing is sent back: the feed has it.
- `ours`: our value is written again, as a manual entry observed now (source `manual`), so it
  stands over whatever the precedence rule showed and is what the next push-back sends (it
  sends the months coordinators recorded: sources `visit` and `manual`).
- `value`: the value the resolver entered (source `manual`), sent back the same way.
- `dismissed`: an ID-number item looked at; nothing to write.

The month is written by the one writer of employment (`app.households.writer`), which audits
it; the item's own change is audited here.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit import service as audit
from app.core.caller import Principal
from app.core.crypto import mask_id_number
from app.core.db import session_driver_connection
from app.core.errors import Conflict, ValidationFailed
from app.core.pagination import PageRequest, newest_first, newest_first_key, next_cursor
from app.core.scope import Scope
from app.feed.conflict_schemas import (
    ConflictHousehold,
    ConflictMember,
    ConflictOut,
    EmploymentSide,
    FeedPerson,
    ResolutionIn,
)
from app.feed.errors import ConflictNotFound, ConflictResolved
from app.feed.models import FeedConflict
from app.feed.values import ConflictKind, ConflictResolution, ConflictStatus
from app.households import writer
from app.households.models import Household, Member, MemberEmployment
from app.policy.values import ObservationSource

# Which resolutions fit which kind of item.
_EMPLOYMENT_RESOLUTIONS = frozenset(
    {ConflictResolution.ours, ConflictResolution.theirs, ConflictResolution.value}
)
_ID_NUMBER_RESOLUTIONS = frozenset({ConflictResolution.dismissed})


@dataclass(frozen=True, slots=True)
class ConflictFilters:
    status: str | None = None
    kind: str | None = None
    region: str | None = None
    period: str | None = None


def _in_scope(principal: Principal) -> Any:
    return principal.scope.region_filter(FeedConflict.village_code)


def _with_member() -> Select[Any]:
    """Items with their member and household, when we have them."""
    return (
        select(
            FeedConflict,
            Member.id.label("m_id"),
            Member.member_no.label("m_no"),
            Member.name.label("m_name"),
            Household.id.label("h_id"),
            Household.household_no.label("h_no"),
        )
        .outerjoin(Member, Member.id == FeedConflict.member_id)
        .outerjoin(Household, Household.id == Member.household_id)
    )


def _out(row: Any) -> ConflictOut:
    conflict: FeedConflict = row[0]
    employment = conflict.kind == ConflictKind.employment
    return ConflictOut(
        id=conflict.id,
        kind=ConflictKind(conflict.kind),
        status=ConflictStatus(conflict.status),
        member_no=conflict.member_no,
        village_code=conflict.village_code,
        period=conflict.period,
        member=ConflictMember(id=row.m_id, member_no=row.m_no, name=row.m_name)
        if row.m_id is not None
        else None,
        household=ConflictHousehold(id=row.h_id, household_no=row.h_no)
        if row.h_id is not None
        else None,
        ours=_side(conflict.ours) if employment else None,
        theirs=_side(conflict.theirs) if employment else None,
        feed_record=None if employment else _person(conflict.theirs),
        resolution=ConflictResolution(conflict.resolution) if conflict.resolution else None,
        resolved_value=_side(conflict.resolved_value),
        resolved_by=conflict.resolved_by,
        resolved_at=conflict.resolved_at,
        created_at=conflict.created_at,
        updated_at=conflict.updated_at,
    )


def _side(value: dict[str, Any] | None) -> EmploymentSide | None:
    return EmploymentSide.model_validate(value) if value else None


def _person(value: dict[str, Any] | None) -> FeedPerson | None:
    if not value:
        return None
    person = FeedPerson.model_validate(value)
    # Masked already when the item was written; masked again so no full number can leave.
    return person.model_copy(update={"id_number": mask_id_number(person.id_number)})


async def list_conflicts(
    session: AsyncSession, principal: Principal, filters: ConflictFilters, page: PageRequest
) -> tuple[list[ConflictOut], str | None]:
    """Items in the caller's scope (the village each belongs to), newest first."""
    statement = _with_member().where(_in_scope(principal))
    if filters.status:
        statement = statement.where(FeedConflict.status == filters.status)
    if filters.kind:
        statement = statement.where(FeedConflict.kind == filters.kind)
    if filters.period:
        statement = statement.where(FeedConflict.period == filters.period)
    if filters.region:
        region = Scope.of_regions([filters.region]).region_filter(FeedConflict.village_code)
        statement = statement.where(region)
    statement = newest_first(statement, FeedConflict.created_at, FeedConflict.id, page)
    rows = list((await session.execute(statement)).all())
    rows, cursor = next_cursor(
        rows, page.limit, lambda r: newest_first_key(r[0].created_at, r[0].id)
    )
    return [_out(row) for row in rows], cursor


async def get_conflict(
    session: AsyncSession, principal: Principal, conflict_id: uuid.UUID
) -> ConflictOut:
    row = (
        await session.execute(
            _with_member().where(FeedConflict.id == conflict_id, _in_scope(principal))
        )
    ).one_or_none()
    if row is None:
        raise ConflictNotFound()
    return _out(row)


def _invalid(field: str, message: str) -> ValidationFailed:
    return ValidationFailed(message, errors=[{"field": field, "message": message}])


def _check_fits(kind: str, resolution: ConflictResolution) -> None:
    allowed = _EMPLOYMENT_RESOLUTIONS if kind == ConflictKind.employment else _ID_NUMBER_RESOLUTIONS
    if resolution not in allowed:
        names = " / ".join(sorted(allowed))
        raise _invalid("body.resolution", f"此类对账事项只能以 {names} 处理")


def _employment_write(
    principal: Principal, conflict: FeedConflict, body: ResolutionIn
) -> writer.EmploymentWrite:
    """The month to write for an `employment` item's resolution."""
    assert conflict.member_id is not None and conflict.period is not None
    if body.resolution is ConflictResolution.value:
        assert body.value is not None
        return writer.EmploymentWrite.of(
            principal.actor,
            conflict.member_id,
            conflict.period,
            body.value,
            ObservationSource.manual,
        )
    side = _side(conflict.theirs if body.resolution is ConflictResolution.theirs else conflict.ours)
    if side is None:
        raise _invalid("body.resolution", "我方没有该月的记录，请选择 theirs 或填写 value")
    theirs = body.resolution is ConflictResolution.theirs
    return writer.EmploymentWrite(
        actor=principal.actor,
        member_id=conflict.member_id,
        period=conflict.period,
        status=side.status,
        work_region=side.region,
        channel=side.channel,
        employer=side.employer,
        months=side.months,
        income=side.income,
        # Ours again, as a manual entry observed now: it stands, and push-back sends it.
        source=ObservationSource.feed if theirs else ObservationSource.manual,
        observed_at=side.observed_at if theirs else None,
    )


def _stored(row: MemberEmployment) -> dict[str, Any]:
    return EmploymentSide(
        status=row.status,
        region=row.work_region,
        channel=row.channel,
        employer=row.employer,
        months=row.months,
        income=row.income,
        source=row.source,
        observed_at=row.observed_at,
    ).model_dump(mode="json")


async def resolve_conflict(
    session: AsyncSession, principal: Principal, conflict_id: uuid.UUID, body: ResolutionIn
) -> ConflictOut:
    """Settles an open item in the caller's scope (404 outside it, 409 once settled)."""
    conflict = await session.scalar(
        select(FeedConflict)
        .where(FeedConflict.id == conflict_id, _in_scope(principal))
        .with_for_update()
    )
    if conflict is None:
        raise ConflictNotFound()
    if conflict.status == ConflictStatus.resolved:
        raise ConflictResolved()
    _check_fits(conflict.kind, body.resolution)
    resolved_value = None
    if conflict.kind == ConflictKind.employment:
        if conflict.member_id is None:
            raise Conflict("该成员已不在登记册中，无法写入务工信息")
        row = _employment_write(principal, conflict, body)
        await writer.write_employment(await session_driver_connection(session), [row])
        stored = await session.get(
            MemberEmployment, (conflict.member_id, conflict.period), populate_existing=True
        )
        assert stored is not None
        resolved_value = _stored(stored)
    now = datetime.now(UTC)
    conflict.status = ConflictStatus.resolved
    conflict.resolution = body.resolution
    conflict.resolved_value = resolved_value
    conflict.resolved_by = None if principal.is_system else principal.id
    conflict.resolved_at = now
    conflict.updated_at = now
    audit.record(
        session,
        principal.actor,
        action="resolve",
        entity="feed_conflict",
        entity_id=conflict.id,
        region_code=conflict.village_code,
        changes={
            "status": (ConflictStatus.open, ConflictStatus.resolved),
            "resolution": (None, body.resolution),
        },
        reason=body.note,
    )
    await session.flush()
    return await get_conflict(session, principal, conflict.id)
