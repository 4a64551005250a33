"""Pushing jobs to labourers in rounds, and following what became of each."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit import service as audit
from app.auth.models import UserAccount
from app.core.caller import Actor, Principal
from app.core.db import session_driver_connection
from app.core.pagination import PageRequest, keyset, keyset_key, next_cursor
from app.core.periods import current_period, today
from app.households import service as households
from app.households.errors import MemberNotFound
from app.households.models import Household, Member
from app.households.service import IN_REGISTRY, visible_households
from app.households.writer import EmploymentWrite, write_employment
from app.jobs.errors import IllegalTransition, JobClosed, NotLabourForce, PushNotFound
from app.jobs.models import Job, JobPush, JobStatus, PushStatus
from app.jobs.schemas import JobOut, PushOut, PushOutcome
from app.jobs.service import get_job_row
from app.notifications.outbox import notify
from app.policy import jobs as policy
from app.policy.values import (
    LABOUR_FORCE,
    EmploymentStatus,
    JobSource,
    ObservationSource,
    WorkRegion,
)

# Forward only: a push moves to a later step, or is declined before it ends.
_STEP = {
    PushStatus.pushed: 0,
    PushStatus.viewed: 1,
    PushStatus.interested: 2,
    PushStatus.interviewed: 3,
    PushStatus.hired: 4,
}
_FINAL = frozenset({PushStatus.hired, PushStatus.declined})


def can_move(current: PushStatus, target: PushStatus) -> bool:
    if current in _FINAL:
        return False
    if target is PushStatus.declined:
        return True
    return _STEP[target] > _STEP[current]


def next_round(latest_round: int, jobs_in_latest: int) -> int:
    """The round a new push joins (see `app/policy/jobs.py`)."""
    if latest_round == 0 or jobs_in_latest >= policy.MIN_JOBS_PER_ROUND:
        return latest_round + 1
    return latest_round


def _push_fields(push: JobPush) -> dict[str, Any]:
    return {
        "id": push.id,
        "job_id": push.job_id,
        "member_id": push.member_id,
        "round": push.round,
        "status": PushStatus(push.status),
        "reason": push.reason,
        "pushed_at": push.pushed_at,
        "updated_at": push.updated_at,
    }


def _push_out(push: JobPush, job: Job) -> PushOut:
    return PushOut(**_push_fields(push), job=JobOut.model_validate(job))


async def push_job(
    session: AsyncSession,
    principal: Principal,
    job_id: uuid.UUID,
    member_ids: list[uuid.UUID],
) -> list[PushOutcome]:
    """Pushes the job to every member who does not have it yet. A member who already has it
    keeps the push they have, and it is answered as it stands (`created` false): retried and
    re-sent requests change nothing."""
    job = await get_job_row(session, job_id)
    if job.status != JobStatus.open or job.valid_until < today():
        raise JobClosed("只能推送开放且在有效期内的岗位")
    wanted = list(dict.fromkeys(member_ids))
    # Locked in id order: concurrent pushes to the same labourers queue here, so two of them
    # never both see a round with four jobs and both add the fifth.
    rows = (
        await session.execute(
            select(Member, Household)
            .join(Household, Household.id == Member.household_id)
            .where(Member.id.in_(wanted), IN_REGISTRY, visible_households(principal))
            .order_by(Member.id)
            .with_for_update(of=Member)
        )
    ).all()
    found = {member.id: (member, household) for member, household in rows}
    missing = [str(m) for m in wanted if m not in found]
    if missing:
        raise MemberNotFound(f"在您的管辖范围内找不到成员：{', '.join(missing)}")
    not_labour = [m for m, _ in found.values() if m.labour_type not in LABOUR_FORCE]
    if not_labour:
        raise NotLabourForce(
            "以下成员不是劳动力：" + "、".join(m.name for m in not_labour),
            errors=[
                {"field": "body.member_ids", "message": f"{m.id} 为{m.labour_type}"}
                for m in not_labour
            ],
        )
    per_round = (
        await session.execute(
            select(JobPush.member_id, JobPush.round, func.count())
            .where(JobPush.member_id.in_(wanted))
            .group_by(JobPush.member_id, JobPush.round)
        )
    ).all()
    latest: dict[uuid.UUID, tuple[int, int]] = {}
    for member_id, round_no, count in per_round:
        if round_no > latest.get(member_id, (0, 0))[0]:
            latest[member_id] = (round_no, count)
    now = datetime.now(UTC)
    # Every member is offered a row; the unique (job_id, member_id) drops the row of a member
    # who already has this job, whether pushed earlier or by a request racing this one.
    inserted = await session.scalars(
        insert(JobPush)
        .values(
            [
                {
                    "id": uuid.uuid4(),
                    "job_id": job.id,
                    "member_id": member_id,
                    "village_code": found[member_id][1].village_code,
                    "round": next_round(*latest.get(member_id, (0, 0))),
                    "status": PushStatus.pushed.value,
                    "pushed_by": principal.id,
                    "pushed_at": now,
                    "updated_at": now,
                }
                for member_id in wanted
            ]
        )
        .on_conflict_do_nothing(index_elements=[JobPush.job_id, JobPush.member_id])
        .returning(JobPush.id)
    )
    created = set(inserted.all())
    stored = await session.scalars(
        select(JobPush).where(JobPush.job_id == job.id, JobPush.member_id.in_(wanted))
    )
    by_member = {push.member_id: push for push in stored}
    pushes = [by_member[member_id] for member_id in wanted]
    actor = principal.actor
    for push in pushes:
        if push.id in created:
            audit.record(
                session,
                actor,
                action="create",
                entity="job_push",
                entity_id=push.id,
                region_code=push.village_code,
                changes={
                    "job_id": (None, job.id),
                    "member_id": (None, push.member_id),
                    "round": (None, push.round),
                },
            )
    newly_pushed = [push.member_id for push in pushes if push.id in created]
    if newly_pushed:
        # The villagers hear of it in their inbox (and on WeChat), with the push itself.
        villagers = await session.scalars(
            select(UserAccount.id).where(
                UserAccount.member_id.in_(newly_pushed), UserAccount.is_active.is_(True)
            )
        )
        await notify(
            session,
            recipients=list(villagers),
            event="job.pushed",
            title="为您推荐了一个岗位",
            body=f"{job.title}（{job.employer}），月薪 {job.wage_min}–{job.wage_max} 元",
            link="/me/job-pushes",
            fields={"job": job.title, "employer": job.employer},
        )
    job_out = JobOut.model_validate(job)
    return [
        PushOutcome(**_push_fields(push), job=job_out, created=push.id in created)
        for push in pushes
    ]


async def _push(
    session: AsyncSession, condition: ColumnElement[bool], push_id: uuid.UUID
) -> tuple[JobPush, Job]:
    row = (
        await session.execute(
            select(JobPush, Job)
            .join(Job, Job.id == JobPush.job_id)
            .where(JobPush.id == push_id, condition)
            .with_for_update(of=JobPush)
        )
    ).one_or_none()
    if row is None:
        raise PushNotFound()
    return row[0], row[1]


def _staff_pushes(principal: Principal) -> ColumnElement[bool]:
    return principal.scope.region_filter(JobPush.village_code)


def _own_pushes(principal: Principal) -> ColumnElement[bool]:
    member_id = principal.user.member_id
    return JobPush.member_id == member_id if member_id else JobPush.id.is_(None)


async def _move(
    session: AsyncSession,
    actor: Actor,
    push: JobPush,
    target: PushStatus,
    reason: str | None,
) -> None:
    current = PushStatus(push.status)
    if not can_move(current, target):
        raise IllegalTransition(f"推送状态不能从 {current.value} 变为 {target.value}")
    reason = (reason or "").strip() or None
    changes = {"status": (current.value, target.value)}
    if reason != push.reason:
        changes["reason"] = (push.reason, reason)
    push.status, push.reason, push.updated_at = target.value, reason, datetime.now(UTC)
    await session.flush()
    audit.record(
        session,
        actor,
        action="update",
        entity="job_push",
        entity_id=push.id,
        region_code=push.village_code,
        changes=changes,
    )


async def record_result(
    session: AsyncSession,
    principal: Principal,
    push_id: uuid.UUID,
    result: PushStatus,
    reason: str | None,
) -> PushOut:
    """A staff member records what became of a push; a hire records this month's employment
    in the same transaction."""
    push, job = await _push(session, _staff_pushes(principal), push_id)
    await _move(session, principal.actor, push, result, reason)
    if result is PushStatus.hired:
        await _record_hire(session, principal, push, job)
    return _push_out(push, job)


async def _record_hire(
    session: AsyncSession, principal: Principal, push: JobPush, job: Job
) -> None:
    """This month's employment of the hired member: 务工 at the job's location and employer,
    by the channel policy gives the job's source; months and income already recorded stay.
    Written and audited by `households.writer`, as a PUT of it is.

    The push stays in the village it was made in, one of the caller's, so the caller records
    the hire on it whatever has happened since. The employment belongs to the member where
    they live now: a member who has moved to a village outside the caller's regions is out of
    the caller's reach (nobody writes outside their scope), so the hire stands on the push and
    the month's employment is left to the staff of the member's new village. The answer is the
    same either way: it says nothing about where the member went."""
    village_code = (
        await session.execute(
            select(Household.village_code)
            .join(Member, Member.household_id == Household.id)
            .where(Member.id == push.member_id)
        )
    ).scalar_one()
    if not principal.scope.covers(village_code):
        return
    location = WorkRegion(job.location_type)
    hired = EmploymentWrite(
        actor=principal.actor,
        member_id=push.member_id,
        period=current_period(),
        status=EmploymentStatus.working.value,
        work_region=location.value,
        channel=policy.hire_channel(JobSource(job.source), location).value,
        employer=job.employer,
        months=0,
        income=None,
        source=ObservationSource.manual.value,
        keeps_months_and_income=True,
    )
    await write_employment(await session_driver_connection(session), [hired])


async def respond(
    session: AsyncSession,
    principal: Principal,
    push_id: uuid.UUID,
    interested: bool,
    reason: str | None,
) -> PushOut:
    """A villager answers a push made to them: interested, or not (with a reason, or a default)."""
    push, job = await _push(session, _own_pushes(principal), push_id)
    if interested:
        await _move(session, principal.actor, push, PushStatus.interested, reason)
    else:
        await _move(
            session, principal.actor, push, PushStatus.declined, reason or "本人表示不感兴趣"
        )
    return _push_out(push, job)


# Latest round first, the newest push first within a round.
_PUSH_ORDER = (JobPush.round, JobPush.pushed_at, JobPush.id)
_PUSH_CURSOR = (int, datetime.fromisoformat, uuid.UUID)


def _push_page(statement: Select[Any], page: PageRequest) -> Select[Any]:
    return keyset(statement, _PUSH_ORDER, _PUSH_CURSOR, page, descending=True)


async def _pushes(
    session: AsyncSession, condition: ColumnElement[bool], page: PageRequest
) -> tuple[list[PushOut], str | None]:
    statement = select(JobPush, Job).join(Job, Job.id == JobPush.job_id).where(condition)
    rows = list((await session.execute(_push_page(statement, page))).all())
    rows, cursor = next_cursor(
        rows, page.limit, lambda row: keyset_key(row[0].round, row[0].pushed_at, row[0].id)
    )
    return [_push_out(push, job) for push, job in rows], cursor


async def member_pushes(
    session: AsyncSession, principal: Principal, member_id: uuid.UUID, page: PageRequest
) -> tuple[list[PushOut], str | None]:
    member, _ = await households.member_in_scope(session, principal, member_id)
    return await _pushes(session, JobPush.member_id == member.id, page)


async def my_pushes(
    session: AsyncSession, principal: Principal, page: PageRequest
) -> tuple[list[PushOut], str | None]:
    """A villager's pushes, a page at a time. Reading them is seeing them: those of the page
    still `pushed` become `viewed`, in one statement, before the page is read; pushes on later
    pages stay `pushed` until their page is read."""
    shown = _push_page(select(JobPush.id).where(_own_pushes(principal)), page).limit(page.limit)
    viewed = await session.execute(
        update(JobPush)
        .where(JobPush.id.in_(shown), JobPush.status == PushStatus.pushed.value)
        .values(status=PushStatus.viewed.value, updated_at=datetime.now(UTC))
        .returning(JobPush.id, JobPush.village_code)
        .execution_options(synchronize_session=False)
    )
    actor = principal.actor
    for push_id, village_code in viewed.all():
        audit.record(
            session,
            actor,
            action="update",
            entity="job_push",
            entity_id=push_id,
            region_code=village_code,
            changes={"status": (PushStatus.pushed.value, PushStatus.viewed.value)},
        )
    return await _pushes(session, _own_pushes(principal), page)
