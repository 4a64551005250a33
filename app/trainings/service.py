"""Trainings: courses in the caller's regions, enrolment with a waiting list, completion.
Every write is audited. The roll and QR check-in are in `attendance`."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Label, and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit import service as audit
from app.core.caller import Principal
from app.core.pagination import PageRequest, newest_first, newest_first_key, next_cursor
from app.households import service as households
from app.households.models import Household, Member
from app.regions.errors import RegionNotFound
from app.regions.models import Region
from app.trainings.errors import (
    AlreadyEnrolled,
    EnrollmentNotFound,
    MemberNotEnrolled,
    TrainingNotFound,
)
from app.trainings.models import Training, TrainingEnrollment, TrainingSession
from app.trainings.schemas import (
    CancellationOut,
    CompletionIn,
    EnrollmentOut,
    EnrollmentStatus,
    MemberTrainingOut,
    SessionOut,
    TrainingDetail,
    TrainingIn,
    TrainingSummary,
)


@dataclass(frozen=True, slots=True)
class TrainingFilters:
    type: str | None = None
    starts_from: datetime | None = None
    starts_to: datetime | None = None


def _counts() -> tuple[Label[int], Label[int]]:
    """Enrolled and waitlisted counts of the outer query's training, as correlated columns."""

    def count(status: EnrollmentStatus) -> Label[int]:
        return (
            select(func.count())
            .where(
                TrainingEnrollment.training_id == Training.id,
                TrainingEnrollment.status == status.value,
            )
            .scalar_subquery()
            .label(status.value)
        )

    return count(EnrollmentStatus.enrolled), count(EnrollmentStatus.waitlisted)


async def visible_training(
    session: AsyncSession, principal: Principal, training_id: uuid.UUID, *, lock: bool = False
) -> Training:
    """A training within the caller's regions (404 otherwise); `lock` holds its row until the
    transaction ends, serialising enrolments on it."""
    statement = select(Training).where(
        Training.id == training_id, principal.scope.region_filter(Training.region_code)
    )
    if lock:
        statement = statement.with_for_update()
    training = await session.scalar(statement)
    if training is None:
        raise TrainingNotFound()
    return training


_SUMMARY_COLUMNS = tuple(f for f in TrainingSummary.model_fields if hasattr(Training, f))


def _summary_of(training: Training, enrolled: int, waitlisted: int) -> TrainingSummary:
    return TrainingSummary.model_validate(
        {
            **{f: getattr(training, f) for f in _SUMMARY_COLUMNS},
            "enrolled": enrolled,
            "waitlisted": waitlisted,
        }
    )


async def _summary(session: AsyncSession, training: Training) -> TrainingSummary:
    enrolled, waitlisted = _counts()
    row = (
        await session.execute(select(enrolled, waitlisted).where(Training.id == training.id))
    ).one()
    return _summary_of(training, row[0], row[1])


async def create_training(
    session: AsyncSession, principal: Principal, body: TrainingIn
) -> TrainingDetail:
    region = await session.get(Region, body.region_code)
    if region is None or not principal.scope.covers(body.region_code):
        raise RegionNotFound(f"区划 {body.region_code} 不存在或不在您的管辖范围内")
    training = Training(
        title=body.title.strip(),
        type=body.type.value,
        region_code=body.region_code,
        organizer=body.organizer.strip(),
        location=body.location.strip(),
        capacity=body.capacity,
        starts_at=body.starts_at.astimezone(UTC),
        ends_at=body.ends_at.astimezone(UTC),
        created_by=principal.id,
    )
    session.add(training)
    await session.flush()
    spans = (
        [(s.starts_at, s.ends_at) for s in body.sessions]
        if body.sessions
        else [(body.starts_at, body.ends_at)]
    )
    sittings = [
        TrainingSession(
            training_id=training.id, starts_at=a.astimezone(UTC), ends_at=b.astimezone(UTC)
        )
        for a, b in sorted(spans)
    ]
    session.add_all(sittings)
    await session.flush()
    await session.refresh(training, ["created_at"])
    audit.record(
        session,
        principal.actor,
        action="create",
        entity="training",
        entity_id=training.id,
        region_code=training.region_code,
        changes={
            "title": (None, training.title),
            "type": (None, training.type),
            "capacity": (None, training.capacity),
            "sessions": (None, len(sittings)),
        },
    )
    return TrainingDetail(
        **_summary_of(training, 0, 0).model_dump(),  # new: nobody has enrolled yet
        sessions=[SessionOut.model_validate(s) for s in sittings],
    )


async def get_training(
    session: AsyncSession, principal: Principal, training_id: uuid.UUID
) -> TrainingDetail:
    training = await visible_training(session, principal, training_id)
    sittings = (
        await session.scalars(
            select(TrainingSession)
            .where(TrainingSession.training_id == training.id)
            .order_by(TrainingSession.starts_at, TrainingSession.id)
        )
    ).all()
    return TrainingDetail(
        **(await _summary(session, training)).model_dump(),
        sessions=[SessionOut.model_validate(s) for s in sittings],
    )


async def list_trainings(
    session: AsyncSession, principal: Principal, filters: TrainingFilters, page: PageRequest
) -> tuple[list[TrainingSummary], str | None]:
    enrolled, waitlisted = _counts()
    statement = select(Training, enrolled, waitlisted).where(
        principal.scope.region_filter(Training.region_code)
    )
    if filters.type:
        statement = statement.where(Training.type == filters.type)
    if filters.starts_from:
        statement = statement.where(Training.starts_at >= filters.starts_from)
    if filters.starts_to:
        statement = statement.where(Training.starts_at < filters.starts_to)
    statement = newest_first(statement, Training.starts_at, Training.id, page)
    rows = list((await session.execute(statement)).all())
    rows, cursor = next_cursor(
        rows, page.limit, lambda r: newest_first_key(r[0].starts_at, r[0].id)
    )
    return [_summary_of(t, e, w) for t, e, w in rows], cursor


async def _position(session: AsyncSession, enrollment: TrainingEnrollment) -> int | None:
    if enrollment.status != EnrollmentStatus.waitlisted:
        return None
    ahead = await session.scalar(
        select(func.count()).where(
            TrainingEnrollment.training_id == enrollment.training_id,
            TrainingEnrollment.status == EnrollmentStatus.waitlisted.value,
            or_(
                TrainingEnrollment.created_at < enrollment.created_at,
                and_(
                    TrainingEnrollment.created_at == enrollment.created_at,
                    TrainingEnrollment.id < enrollment.id,
                ),
            ),
        )
    )
    return (ahead or 0) + 1


async def _enrollment_out(session: AsyncSession, enrollment: TrainingEnrollment) -> EnrollmentOut:
    return EnrollmentOut(
        training_id=enrollment.training_id,
        member_id=enrollment.member_id,
        status=EnrollmentStatus(enrollment.status),
        waitlist_position=await _position(session, enrollment),
        created_at=enrollment.created_at,
        completed_on=enrollment.completed_on,
        certificate_no=enrollment.certificate_no,
    )


async def _count(session: AsyncSession, training_id: uuid.UUID, status: EnrollmentStatus) -> int:
    return (
        await session.scalar(
            select(func.count()).where(
                TrainingEnrollment.training_id == training_id,
                TrainingEnrollment.status == status.value,
            )
        )
        or 0
    )


async def enroll(
    session: AsyncSession,
    principal: Principal,
    training_id: uuid.UUID,
    member_id: uuid.UUID,
) -> EnrollmentOut:
    """Enrolled while places remain, else waitlisted. The training row stays locked from the
    count to the insert, so concurrent enrolments never exceed capacity."""
    training = await visible_training(session, principal, training_id, lock=True)
    member, household = await households.member_in_scope(session, principal, member_id)
    existing = await session.scalar(
        select(TrainingEnrollment.id).where(
            TrainingEnrollment.training_id == training.id,
            TrainingEnrollment.member_id == member.id,
        )
    )
    if existing is not None:
        raise AlreadyEnrolled(f"{member.name} 已在此培训的名单中")
    full = await _count(session, training.id, EnrollmentStatus.enrolled) >= training.capacity
    enrollment = TrainingEnrollment(
        training_id=training.id,
        member_id=member.id,
        status=(EnrollmentStatus.waitlisted if full else EnrollmentStatus.enrolled).value,
        created_at=datetime.now(UTC),
    )
    session.add(enrollment)
    await session.flush()
    audit.record(
        session,
        principal.actor,
        action="create",
        entity="training_enrollment",
        entity_id=enrollment.id,
        region_code=household.village_code,
        changes={
            "training_id": (None, training.id),
            "member_id": (None, member.id),
            "status": (None, enrollment.status),
        },
    )
    return await _enrollment_out(session, enrollment)


async def cancel(
    session: AsyncSession,
    principal: Principal,
    training_id: uuid.UUID,
    member_id: uuid.UUID,
) -> CancellationOut:
    """Removes the member; a freed place goes to the first on the waiting list at once."""
    training = await visible_training(session, principal, training_id, lock=True)
    member, household = await households.member_in_scope(session, principal, member_id)
    enrollment = await session.scalar(
        select(TrainingEnrollment).where(
            TrainingEnrollment.training_id == training.id,
            TrainingEnrollment.member_id == member.id,
        )
    )
    if enrollment is None:
        raise EnrollmentNotFound()
    was = enrollment.status
    await session.delete(enrollment)
    await session.flush()
    audit.record(
        session,
        principal.actor,
        action="delete",
        entity="training_enrollment",
        entity_id=enrollment.id,
        region_code=household.village_code,
        changes={
            "training_id": (training.id, None),
            "member_id": (member.id, None),
            "status": (was, None),
        },
    )
    promoted: TrainingEnrollment | None = None
    if was == EnrollmentStatus.enrolled and (
        await _count(session, training.id, EnrollmentStatus.enrolled) < training.capacity
    ):
        # The first in line may live in a village outside the caller's regions: their
        # enrolment is audited in their own village, as every enrolment is.
        first = (
            await session.execute(
                select(TrainingEnrollment, Household.village_code)
                .join(Member, Member.id == TrainingEnrollment.member_id)
                .join(Household, Household.id == Member.household_id)
                .where(
                    TrainingEnrollment.training_id == training.id,
                    TrainingEnrollment.status == EnrollmentStatus.waitlisted.value,
                )
                .order_by(TrainingEnrollment.created_at, TrainingEnrollment.id)
                .limit(1)
            )
        ).one_or_none()
        if first is not None:
            promoted, village_code = first
            promoted.status = EnrollmentStatus.enrolled.value
            await session.flush()
            audit.record(
                session,
                principal.actor,
                action="update",
                entity="training_enrollment",
                entity_id=promoted.id,
                region_code=village_code,
                changes={"status": (EnrollmentStatus.waitlisted.value, promoted.status)},
            )
    return CancellationOut(
        member_id=member.id, promoted_member_id=promoted.member_id if promoted else None
    )


async def complete(
    session: AsyncSession,
    principal: Principal,
    training_id: uuid.UUID,
    body: CompletionIn,
) -> EnrollmentOut:
    training = await visible_training(session, principal, training_id)
    member, household = await households.member_in_scope(session, principal, body.member_id)
    enrollment = await session.scalar(
        select(TrainingEnrollment)
        .where(
            TrainingEnrollment.training_id == training.id,
            TrainingEnrollment.member_id == member.id,
        )
        .with_for_update()
    )
    if enrollment is None or enrollment.status != EnrollmentStatus.enrolled:
        raise MemberNotEnrolled(f"{member.name} 未正式报名此培训，不能记录结业")
    changes = {
        key: (getattr(enrollment, key), value)
        for key, value in (
            ("completed_on", body.completed_on),
            ("certificate_no", body.certificate_no),
        )
        if getattr(enrollment, key) != value
    }
    enrollment.completed_on = body.completed_on
    enrollment.certificate_no = body.certificate_no
    await session.flush()
    if changes:
        audit.record(
            session,
            principal.actor,
            action="update",
            entity="training_enrollment",
            entity_id=enrollment.id,
            region_code=household.village_code,
            changes=changes,
        )
    return await _enrollment_out(session, enrollment)


async def member_trainings(
    session: AsyncSession, principal: Principal, member_id: uuid.UUID, page: PageRequest
) -> tuple[list[MemberTrainingOut], str | None]:
    """The member's trainings, newest first. Visible whenever the member is: a member who
    moved keeps their record, wherever the course was held."""
    member, _ = await households.member_in_scope(session, principal, member_id)
    statement = (
        select(Training, TrainingEnrollment)
        .join(TrainingEnrollment, TrainingEnrollment.training_id == Training.id)
        .where(TrainingEnrollment.member_id == member.id)
    )
    statement = newest_first(statement, Training.starts_at, Training.id, page)
    rows = list((await session.execute(statement)).all())
    rows, cursor = next_cursor(
        rows, page.limit, lambda row: newest_first_key(row[0].starts_at, row[0].id)
    )
    items = [
        MemberTrainingOut(
            training_id=t.id,
            title=t.title,
            type=t.type,
            region_code=t.region_code,
            starts_at=t.starts_at,
            ends_at=t.ends_at,
            status=EnrollmentStatus(e.status),
            completed_on=e.completed_on,
            certificate_no=e.certificate_no,
        )
        for t, e in rows
    ]
    return items, cursor
