"""Exemptions from data checks: a township or county user says a rule does not apply to a
household (or one member), and why. Audited; an exempted household or member has no finding of
that rule from then on."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import delete, select, true
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit import service as audit
from app.core.caller import Principal
from app.core.crypto import PiiCipher
from app.core.pagination import PageRequest, newest_first, newest_first_key, next_cursor
from app.core.scope import Scope
from app.feed.checks import refresh_findings
from app.feed.checks_errors import ExemptionExists, ExemptionNotFound
from app.feed.checks_models import DataCheckExemption, DataCheckFinding
from app.feed.checks_schemas import ExemptionIn, ExemptionOut
from app.households.errors import HouseholdNotFound, MemberNotFound
from app.households.models import Household, Member
from app.households.service import visible_households
from app.policy.data_checks import CheckCode

_ENTITY = "data_check_exemption"


def _out(exemption: DataCheckExemption, village_code: str) -> ExemptionOut:
    return ExemptionOut(
        id=exemption.id,
        rule=CheckCode(exemption.rule),
        household_id=exemption.household_id,
        member_id=exemption.member_id,
        village_code=village_code,
        reason=exemption.reason,
        created_by=exemption.created_by,
        created_at=exemption.created_at,
    )


async def create_exemption(
    session: AsyncSession, principal: Principal, body: ExemptionIn
) -> ExemptionOut:
    """The household must be in the caller's scope, and the member (if named) one of its
    current members; else 404. A second exemption of the same rule and household or member
    answers 409. The findings it silences go at once."""
    household = await session.scalar(
        select(Household).where(Household.id == body.household_id, visible_households(principal))
    )
    if household is None:
        raise HouseholdNotFound()
    if body.member_id is not None:
        member = await session.scalar(
            select(Member.id).where(
                Member.id == body.member_id,
                Member.household_id == household.id,
                Member.deleted_at.is_(None),
            )
        )
        if member is None:
            raise MemberNotFound("该户没有这名成员")
    exemption = await session.scalar(
        insert(DataCheckExemption)
        .values(
            id=uuid.uuid4(),
            rule=body.rule.value,
            household_id=household.id,
            member_id=body.member_id,
            reason=body.reason,
            created_by=None if principal.is_system else principal.id,
        )
        .on_conflict_do_nothing(constraint="uq_data_check_exemption_rule_household_id_member_id")
        .returning(DataCheckExemption)
    )
    if exemption is None:
        raise ExemptionExists()
    await session.execute(
        delete(DataCheckFinding).where(
            DataCheckFinding.rule == exemption.rule,
            DataCheckFinding.household_id == household.id,
            DataCheckFinding.member_id == body.member_id if body.member_id else true(),
        )
    )
    audit.record(
        session,
        principal.actor,
        action="create",
        entity=_ENTITY,
        entity_id=exemption.id,
        region_code=household.village_code,
        changes={
            "rule": (None, exemption.rule),
            "household_id": (None, exemption.household_id),
            "member_id": (None, exemption.member_id),
        },
        reason=body.reason,
    )
    return _out(exemption, household.village_code)


@dataclass(frozen=True, slots=True)
class ExemptionFilters:
    rule: CheckCode | None = None
    region: str | None = None
    household_id: uuid.UUID | None = None


async def list_exemptions(
    session: AsyncSession, principal: Principal, filters: ExemptionFilters, page: PageRequest
) -> tuple[list[ExemptionOut], str | None]:
    """Exemptions of households in the caller's scope, newest first."""
    statement = (
        select(DataCheckExemption, Household.village_code)
        .join(Household, Household.id == DataCheckExemption.household_id)
        .where(visible_households(principal))
    )
    if filters.rule:
        statement = statement.where(DataCheckExemption.rule == filters.rule)
    if filters.region:
        statement = statement.where(
            Scope.of_regions([filters.region]).region_filter(Household.village_code)
        )
    if filters.household_id:
        statement = statement.where(DataCheckExemption.household_id == filters.household_id)
    statement = newest_first(statement, DataCheckExemption.created_at, DataCheckExemption.id, page)
    rows = list((await session.execute(statement)).all())
    rows, cursor = next_cursor(
        rows, page.limit, lambda r: newest_first_key(r[0].created_at, r[0].id)
    )
    return [_out(exemption, village) for exemption, village in rows], cursor


async def delete_exemption(
    session: AsyncSession, principal: Principal, cipher: PiiCipher, exemption_id: uuid.UUID
) -> None:
    """Lifts an exemption of a household in the caller's scope (else 404); the household's
    village is checked again at once, so what it silenced is listed again."""
    row = (
        await session.execute(
            select(DataCheckExemption, Household.village_code)
            .join(Household, Household.id == DataCheckExemption.household_id)
            .where(DataCheckExemption.id == exemption_id, visible_households(principal))
            .with_for_update(of=DataCheckExemption)
        )
    ).one_or_none()
    if row is None:
        raise ExemptionNotFound()
    exemption, village_code = row
    await session.delete(exemption)
    audit.record(
        session,
        principal.actor,
        action="delete",
        entity=_ENTITY,
        entity_id=exemption.id,
        region_code=village_code,
        changes={
            "rule": (exemption.rule, None),
            "household_id": (exemption.household_id, None),
            "member_id": (exemption.member_id, None),
        },
    )
    await session.flush()
    await refresh_findings(session, village_code, cipher=cipher)
