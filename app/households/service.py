"""Reading and correcting the registry, always inside the caller's scope, always audited.

A member's monthly employment and intent are written only by `app.households.writer` (the
PUTs through `app.households.employment`).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, and_, exists, false, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.exc import StaleDataError

from app.audit import service as audit
from app.core.caller import Principal, Role
from app.core.crypto import ID_NUMBER_INDEX, PHONE_INDEX, PiiCipher
from app.core.pagination import PageRequest, next_cursor
from app.core.periods import current_period
from app.core.preconditions import IfMatch
from app.core.scope import Scope
from app.households import views
from app.households.errors import HouseholdNotFound, MemberNotFound, StaleVersion, VersionRequired
from app.households.id_number import normalise_id_number
from app.households.models import Household, Member, MemberEmployment
from app.households.schemas import (
    HouseholdDetail,
    HouseholdOut,
    HouseholdSummary,
    MemberOut,
    MemberPatch,
)
from app.households.views import ID_NUMBER_CIPHER, PHONE_CIPHER
from app.policy.values import Relation


@dataclass(frozen=True, slots=True)
class HouseholdFilters:
    region: str | None = None
    category: str | None = None
    monitor_type: str | None = None
    labour_type: str | None = None
    employment_status: str | None = None
    period: str | None = None
    q: str | None = None


# A member the monitoring feed says left the registry is kept (history, audit) and shown
# nowhere: no list, count, search or write reaches them.
IN_REGISTRY = Member.deleted_at.is_(None)


def visible_households(principal: Principal) -> ColumnElement[bool]:
    """The households a caller may see, as SQL: regions for staff, their own for a villager."""
    if principal.role is Role.villager:
        member_id = principal.user.member_id
        if member_id is None:
            return false()
        own = select(Member.household_id).where(Member.id == member_id).scalar_subquery()
        return Household.id == own
    return principal.scope.region_filter(Household.village_code)


def _filtered(filters: HouseholdFilters) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    if filters.region:
        conditions.append(Scope.of_regions([filters.region]).region_filter(Household.village_code))
    if filters.category:
        conditions.append(Household.category == filters.category)
    if filters.monitor_type:
        conditions.append(Household.monitor_type == filters.monitor_type)
    if filters.labour_type:
        conditions.append(
            exists().where(
                Member.household_id == Household.id,
                Member.labour_type == filters.labour_type,
                IN_REGISTRY,
            )
        )
    if filters.employment_status:
        period = filters.period or current_period()
        conditions.append(
            exists().where(
                Member.household_id == Household.id,
                IN_REGISTRY,
                MemberEmployment.member_id == Member.id,
                MemberEmployment.period == period,
                MemberEmployment.status == filters.employment_status,
            )
        )
    if filters.q:
        text = filters.q.strip()
        by_name = Household.id.in_(
            select(Member.household_id).where(
                Member.name.startswith(text, autoescape=True), IN_REGISTRY
            )
        )
        conditions.append(or_(Household.household_no == text, by_name))
    return conditions


# A household page's columns, built once: plain values rather than ORM objects (a page is
# read-only, and loading 50 identity-mapped instances costs more than the query), with the head's
# name and the member count as correlated subqueries over the page's rows only.
_SUMMARY_COLUMNS = (
    *(
        Household.__table__.c[name]
        for name in HouseholdSummary.model_fields
        if name in Household.__table__.c
    ),
    select(Member.name)
    .where(Member.household_id == Household.id, Member.relation == Relation.head, IN_REGISTRY)
    .limit(1)
    .scalar_subquery()
    .label("head_name"),
    select(func.count())
    .where(Member.household_id == Household.id, IN_REGISTRY)
    .scalar_subquery()
    .label("member_count"),
)


async def list_households(
    session: AsyncSession, principal: Principal, filters: HouseholdFilters, page: PageRequest
) -> tuple[list[HouseholdSummary], str | None]:
    statement = (
        select(*_SUMMARY_COLUMNS)
        .where(visible_households(principal), *_filtered(filters))
        .order_by(Household.village_code, Household.household_no)
        .limit(page.limit + 1)
    )
    if page.after:
        village, number = str(page.after[0]), str(page.after[1])
        statement = statement.where(
            or_(
                Household.village_code > village,
                and_(Household.village_code == village, Household.household_no > number),
            )
        )
    rows = list((await session.execute(statement)).mappings().all())
    rows, cursor = next_cursor(rows, page.limit, lambda r: [r["village_code"], r["household_no"]])
    return [HouseholdSummary.model_validate(row) for row in rows], cursor


async def _household(
    session: AsyncSession, principal: Principal, household_id: uuid.UUID
) -> Household:
    household = await session.scalar(
        select(Household).where(Household.id == household_id, visible_households(principal))
    )
    if household is None:
        raise HouseholdNotFound()
    return household


async def member_in_scope(
    session: AsyncSession, principal: Principal, member_id: uuid.UUID, *, for_update: bool = False
) -> tuple[Member, Household]:
    """A member the caller may see, with their household; 404 otherwise (also for one that
    exists outside the caller's scope). Other domains check members through this."""
    statement = (
        select(Member, Household)
        .join(Household, Household.id == Member.household_id)
        .where(Member.id == member_id, IN_REGISTRY, visible_households(principal))
    )
    if for_update:
        statement = statement.with_for_update(of=Member)
    row = (await session.execute(statement)).one_or_none()
    if row is None:
        raise MemberNotFound()
    return row[0], row[1]


async def get_household(
    session: AsyncSession, principal: Principal, cipher: PiiCipher, household_id: uuid.UUID
) -> HouseholdDetail:
    household = await _household(session, principal, household_id)
    members = list(
        (
            await session.scalars(
                select(Member)
                .where(Member.household_id == household.id, IN_REGISTRY)
                .order_by(Member.relation != Relation.head, Member.member_no)
            )
        ).all()
    )
    return HouseholdDetail(
        **HouseholdOut.model_validate(household).model_dump(),
        members=await views.members_out(session, cipher, members),
    )


async def get_member(
    session: AsyncSession, principal: Principal, cipher: PiiCipher, member_id: uuid.UUID
) -> MemberOut:
    member, _ = await member_in_scope(session, principal, member_id)
    return (await views.members_out(session, cipher, [member]))[0]


async def find_by_id_number(
    session: AsyncSession, principal: Principal, cipher: PiiCipher, raw: str
) -> MemberOut:
    id_number = normalise_id_number(raw)
    member = await session.scalar(
        select(Member)
        .join(Household, Household.id == Member.household_id)
        .where(
            Member.id_number_index == cipher.blind_index(id_number, context=ID_NUMBER_INDEX),
            IN_REGISTRY,
            visible_households(principal),
        )
    )
    if member is None:
        raise MemberNotFound("在您的管辖范围内没有该身份证号码的成员")
    return (await views.members_out(session, cipher, [member]))[0]


async def update_member(
    session: AsyncSession,
    principal: Principal,
    cipher: PiiCipher,
    member_id: uuid.UUID,
    patch: MemberPatch,
    if_match: IfMatch | None,
) -> MemberOut:
    """`if_match`, when given, decides; otherwise the body's `version`."""
    if if_match is None and patch.version is None:
        raise VersionRequired("修改前请带上读取时的版本（If-Match 头或 version 字段）")
    member, household = await member_in_scope(session, principal, member_id, for_update=True)
    if if_match is not None and not if_match.matches(member.version):
        raise StaleVersion(f"If-Match 为 {if_match.describe()}，当前为第 {member.version} 版")
    if if_match is None and member.version != patch.version:
        raise StaleVersion(f"您读取的是第 {patch.version} 版，当前为第 {member.version} 版")
    changes: dict[str, tuple[Any, Any]] = {}
    personal: list[str] = []
    for field, value in patch.model_dump(exclude_unset=True, exclude={"version"}).items():
        if field == "phone":
            old = (
                cipher.decrypt(member.phone_cipher, context=PHONE_CIPHER)
                if member.phone_cipher
                else None
            )
            if old != value:
                member.phone_cipher = cipher.encrypt(value, context=PHONE_CIPHER) if value else None
                member.phone_index = (
                    cipher.blind_index(value, context=PHONE_INDEX) if value else None
                )
                personal.append("phone")
            continue
        old = getattr(member, field)
        if old != value:
            setattr(member, field, value)
            changes[field] = (old, value)
    if not changes and not personal:
        return (await views.members_out(session, cipher, [member]))[0]
    try:
        await session.flush()
    except StaleDataError as exc:  # changed between our read and write
        raise StaleVersion() from exc
    audit.record(
        session,
        principal.actor,
        action="update",
        entity="member",
        entity_id=member.id,
        region_code=household.village_code,
        changes=changes,
        personal_fields=personal,
    )
    return (await views.members_out(session, cipher, [member]))[0]


async def reveal_id_number(
    session: AsyncSession,
    principal: Principal,
    cipher: PiiCipher,
    member_id: uuid.UUID,
    reason: str,
) -> str:
    member, household = await member_in_scope(session, principal, member_id)
    audit.record(
        session,
        principal.actor,
        action="reveal",
        entity="member",
        entity_id=member.id,
        region_code=household.village_code,
        personal_fields=["id_number"],
        reason=reason,
    )
    return cipher.decrypt(member.id_number_cipher, context=ID_NUMBER_CIPHER)
