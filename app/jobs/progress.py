"""Each labourer's push rounds against policy: one member's progress, and who is behind."""

from __future__ import annotations

import uuid

from sqlalchemy import and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.caller import Principal
from app.core.pagination import InvalidCursor, PageRequest, next_cursor
from app.core.scope import Scope
from app.households import service as households
from app.households.models import Household, Member, MemberIntent
from app.households.service import visible_households
from app.jobs.models import JobPush
from app.jobs.schemas import BelowPolicyItem, PushProgress
from app.policy import jobs as policy
from app.policy.values import LABOUR_FORCE


async def member_progress(
    session: AsyncSession, principal: Principal, member_id: uuid.UUID
) -> PushProgress:
    member, _ = await households.member_in_scope(session, principal, member_id)
    counts = list(
        (
            await session.scalars(
                select(func.count()).where(JobPush.member_id == member.id).group_by(JobPush.round)
            )
        ).all()
    )
    full = sum(1 for n in counts if n >= policy.MIN_JOBS_PER_ROUND)
    return PushProgress(
        member_id=member.id,
        rounds=len(counts),
        full_rounds=full,
        jobs_pushed=sum(counts),
        meets_policy=full >= policy.MIN_PUSH_ROUNDS,
        required_rounds=policy.MIN_PUSH_ROUNDS,
        jobs_per_round=policy.MIN_JOBS_PER_ROUND,
    )


async def below_policy(
    session: AsyncSession, principal: Principal, page: PageRequest, region: str | None = None
) -> tuple[list[BelowPolicyItem], str | None]:
    """Labourers with an intent to work who have fewer full rounds than policy asks, in one
    grouped query (per round, then per member), ordered by village then member."""
    scoped = visible_households(principal)
    per_round = (
        select(JobPush.member_id, JobPush.round, func.count().label("jobs"))
        .join(Member, Member.id == JobPush.member_id)
        .join(Household, Household.id == Member.household_id)
        .where(scoped)
        .group_by(JobPush.member_id, JobPush.round)
        .subquery()
    )
    per_member = (
        select(
            per_round.c.member_id,
            func.count().label("rounds"),
            func.count().filter(per_round.c.jobs >= policy.MIN_JOBS_PER_ROUND).label("full_rounds"),
            func.sum(per_round.c.jobs).label("jobs_pushed"),
        )
        .group_by(per_round.c.member_id)
        .subquery()
    )
    full_rounds = func.coalesce(per_member.c.full_rounds, 0)
    statement = (
        select(
            Member.id.label("member_id"),
            Household.id.label("household_id"),
            Household.village_code,
            Member.name,
            MemberIntent.intent,
            func.coalesce(per_member.c.rounds, 0).label("rounds"),
            full_rounds.label("full_rounds"),
            func.coalesce(per_member.c.jobs_pushed, 0).label("jobs_pushed"),
        )
        .join(Household, Household.id == Member.household_id)
        .join(MemberIntent, MemberIntent.member_id == Member.id)
        .outerjoin(per_member, per_member.c.member_id == Member.id)
        .where(
            scoped,
            MemberIntent.intent.in_([i.value for i in policy.PUSH_INTENTS]),
            Member.labour_type.in_([t.value for t in LABOUR_FORCE]),
            full_rounds < policy.MIN_PUSH_ROUNDS,
        )
        .order_by(Household.village_code, Member.id)
        .limit(page.limit + 1)
    )
    if region:
        statement = statement.where(
            Scope.of_regions([region]).region_filter(Household.village_code)
        )
    if page.after:
        try:
            village, last = str(page.after[0]), uuid.UUID(str(page.after[1]))
        except (ValueError, IndexError) as exc:
            raise InvalidCursor("游标无法解析，请从第一页重新开始") from exc
        statement = statement.where(
            or_(
                Household.village_code > village,
                and_(Household.village_code == village, Member.id > last),
            )
        )
    rows = list((await session.execute(statement)).mappings().all())
    rows, cursor = next_cursor(rows, page.limit, lambda r: [r["village_code"], str(r["member_id"])])
    return [BelowPolicyItem.model_validate(dict(row)) for row in rows], cursor
