"""Attendance: the coordinator's roll, and villagers checking in with a session's QR code."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import NamedTuple

from redis.asyncio import Redis
from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit import service as audit
from app.core.caller import Actor, Principal
from app.core.pagination import PageRequest, keyset, keyset_key, next_cursor
from app.households.errors import MemberNotFound
from app.households.models import Household, Member
from app.policy.trainings import CHECKIN_CODE_TTL_SECONDS, CHECKIN_OPENS_BEFORE_SECONDS
from app.trainings import checkin, service
from app.trainings.errors import (
    AlreadyCheckedIn,
    CheckinCodeInvalid,
    CheckinCodeUsed,
    MemberNotEnrolled,
    NotEnrolled,
    SessionNotFound,
    SessionNotOpen,
)
from app.trainings.models import Training, TrainingAttendance, TrainingEnrollment, TrainingSession
from app.trainings.schemas import (
    AttendanceIn,
    AttendanceOut,
    AttendanceSource,
    CheckinCode,
    CheckinOut,
    EnrollmentStatus,
)

# By session (in time), then member.
_ROLL_ORDER = (
    TrainingSession.starts_at,
    TrainingAttendance.session_id,
    TrainingAttendance.member_id,
)
_ROLL_CURSOR = (datetime.fromisoformat, uuid.UUID, uuid.UUID)


async def _session_of(
    session: AsyncSession, training: Training, session_id: uuid.UUID, *, lock: bool = False
) -> TrainingSession:
    """The training's session; `lock` (the roll) holds it until the transaction ends."""
    statement = select(TrainingSession).where(
        TrainingSession.id == session_id, TrainingSession.training_id == training.id
    )
    if lock:
        statement = statement.with_for_update()
    sitting = await session.scalar(statement)
    if sitting is None:
        raise SessionNotFound()
    return sitting


class _Enrolment(NamedTuple):
    status: str
    village_code: str  # where the member lives: their attendance is audited there


async def _enrolments(
    session: AsyncSession, training_id: uuid.UUID, member_ids: set[uuid.UUID]
) -> dict[uuid.UUID, _Enrolment]:
    """The members' enrolments in the training (enrolled or waitlisted), in one query."""
    rows = await session.execute(
        select(TrainingEnrollment.member_id, TrainingEnrollment.status, Household.village_code)
        .join(Member, Member.id == TrainingEnrollment.member_id)
        .join(Household, Household.id == Member.household_id)
        .where(
            TrainingEnrollment.training_id == training_id,
            TrainingEnrollment.member_id.in_(member_ids),
        )
    )
    return {member_id: _Enrolment(status, village) for member_id, status, village in rows}


async def _mark(
    session: AsyncSession,
    training: Training,
    sitting: TrainingSession,
    member_ids: list[uuid.UUID],
    present: bool,
    source: AttendanceSource,
    *,
    unless_present: bool = False,
) -> list[TrainingAttendance]:
    """Insert or update one row per (session, member): marking twice never duplicates.
    `unless_present` leaves a row already present as it is, and out of the result."""
    values = [
        {
            "session_id": sitting.id,
            "member_id": member_id,
            "training_id": training.id,
            "present": present,
            "source": source.value,
        }
        for member_id in member_ids
    ]
    statement = insert(TrainingAttendance).values(values)
    statement = statement.on_conflict_do_update(
        index_elements=[TrainingAttendance.session_id, TrainingAttendance.member_id],
        set_={
            "present": statement.excluded.present,
            "source": statement.excluded.source,
            "recorded_at": func.now(),
        },
        where=~TrainingAttendance.present if unless_present else None,
    ).returning(TrainingAttendance)
    return list(
        (await session.scalars(statement, execution_options={"populate_existing": True})).all()
    )


# What a session's attendance rows held before a write: member → (present, source).
_Before = dict[uuid.UUID, tuple[bool, str]]


async def _before(
    session: AsyncSession, sitting: TrainingSession, member_ids: list[uuid.UUID]
) -> _Before:
    """The members' rows for the session as they stand, locked until the transaction ends.

    Writers of attendance lock the session row before its attendance rows: the roll FOR
    UPDATE, a check-in FOR KEY SHARE (which the foreign key check of an insert takes anyway).
    So no row of the session is added or changed between the roll reading what it replaces
    and writing it, the audit's old values are exact, and check-ins of different members
    never wait for each other.
    """
    rows = await session.execute(
        select(TrainingAttendance.member_id, TrainingAttendance.present, TrainingAttendance.source)
        .where(
            TrainingAttendance.session_id == sitting.id,
            TrainingAttendance.member_id.in_(member_ids),
        )
        .with_for_update()
    )
    return {member_id: (present, source) for member_id, present, source in rows}


def _audit(
    session: AsyncSession,
    actor: Actor,
    sitting: TrainingSession,
    rows: list[TrainingAttendance],
    before: _Before,
    villages: dict[uuid.UUID, str],
) -> None:
    """One event per row written, in the member's village (`villages`): a new row names its
    session; a row that existed gives what changed (old → new), and none at all when nothing
    did."""
    for row in rows:
        old = before.get(row.member_id)
        if old is None:
            action = "create"
            changes = {
                "session_id": (None, sitting.id),
                "present": (None, row.present),
                "source": (None, row.source),
            }
        else:
            action = "update"
            changes = {
                field: (was, now)
                for field, was, now in zip(
                    ("present", "source"), old, (row.present, row.source), strict=True
                )
                if was != now
            }
            if not changes:
                continue
        audit.record(
            session,
            actor,
            action=action,
            entity="training_attendance",
            entity_id=row.member_id,
            region_code=villages[row.member_id],
            changes=changes,
        )


async def record_attendance(
    session: AsyncSession,
    principal: Principal,
    training_id: uuid.UUID,
    body: AttendanceIn,
) -> list[AttendanceOut]:
    training = await service.visible_training(session, principal, training_id)
    sitting = await _session_of(session, training, body.session_id, lock=True)
    wanted = list(dict.fromkeys(body.member_ids))
    enrolments = await _enrolments(session, training.id, set(wanted))
    # A course may take members from villages outside the caller's (a manager enrolled them):
    # the roll marks only the caller's own, and names the others as it names a missing member.
    strangers = {
        member_id
        for member_id, enrolment in enrolments.items()
        if not principal.scope.covers(enrolment.village_code)
    }
    if strangers:
        raise MemberNotFound(
            "在您的管辖范围内找不到成员：" + ", ".join(sorted(str(m) for m in strangers))
        )
    villages = {
        member_id: enrolment.village_code
        for member_id, enrolment in enrolments.items()
        if enrolment.status == EnrollmentStatus.enrolled
    }
    missing = set(wanted) - villages.keys()
    if missing:
        raise MemberNotEnrolled(
            "以下成员未正式报名此培训：" + ", ".join(sorted(str(m) for m in missing))
        )
    before = await _before(session, sitting, wanted)
    rows = await _mark(session, training, sitting, wanted, body.present, AttendanceSource.roll)
    _audit(session, principal.actor, sitting, rows, before, villages)
    return [AttendanceOut.model_validate(row) for row in rows]


async def list_attendance(
    session: AsyncSession,
    principal: Principal,
    training_id: uuid.UUID,
    session_id: uuid.UUID | None,
    page: PageRequest,
) -> tuple[list[AttendanceOut], str | None]:
    """The training's attendance of members living in the caller's regions: the course's
    other members (enrolled by staff elsewhere) are theirs to read."""
    training = await service.visible_training(session, principal, training_id)
    statement = (
        select(TrainingSession.starts_at, TrainingAttendance)
        .join(TrainingSession, TrainingSession.id == TrainingAttendance.session_id)
        .join(Member, Member.id == TrainingAttendance.member_id)
        .join(Household, Household.id == Member.household_id)
        .where(
            TrainingAttendance.training_id == training.id,
            principal.scope.region_filter(Household.village_code),
        )
    )
    if session_id is not None:
        statement = statement.where(TrainingAttendance.session_id == session_id)
    statement = keyset(statement, _ROLL_ORDER, _ROLL_CURSOR, page, descending=False)
    rows = list((await session.execute(statement)).all())
    rows, cursor = next_cursor(
        rows, page.limit, lambda row: keyset_key(row[0], row[1].session_id, row[1].member_id)
    )
    return [AttendanceOut.model_validate(row) for _, row in rows], cursor


async def checkin_code(
    session: AsyncSession,
    principal: Principal,
    secret: str,
    training_id: uuid.UUID,
    session_id: uuid.UUID,
) -> CheckinCode:
    training = await service.visible_training(session, principal, training_id)
    sitting = await _session_of(session, training, session_id)
    moment = checkin.now()
    opens = sitting.starts_at - timedelta(seconds=CHECKIN_OPENS_BEFORE_SECONDS)
    if not opens <= moment < sitting.ends_at:
        raise SessionNotOpen(
            f"签到码只能在课次开始前 {CHECKIN_OPENS_BEFORE_SECONDS // 60} 分钟至课次结束之间生成"
        )
    code, expires_at = checkin.issue(secret, training.id, sitting.id, CHECKIN_CODE_TTL_SECONDS)
    return CheckinCode(code=code, expires_at=expires_at, session_id=sitting.id)


async def check_in(
    session: AsyncSession,
    redis: Redis,
    principal: Principal,
    secret: str,
    code: str,
) -> CheckinOut:
    """A villager scans the code: a genuine, unexpired code for a session of a training they
    are enrolled in records them present. Each code counts once per member."""
    claims = checkin.verify(secret, code)
    member_id = principal.user.member_id
    if member_id is None:
        raise NotEnrolled("您的账号未关联家庭成员，无法签到")
    enrollment = (await _enrolments(session, claims.training_id, {member_id})).get(member_id)
    if enrollment is None or enrollment.status != EnrollmentStatus.enrolled:
        raise NotEnrolled(
            "您仍在候补名单中，不能签到" if enrollment is not None else "您未报名此培训"
        )
    training = await session.get(Training, claims.training_id)
    sitting = await session.scalar(  # locked before the attendance row: see `_before`
        select(TrainingSession)
        .where(TrainingSession.id == claims.session_id)
        .with_for_update(read=True, key_share=True)
    )
    if training is None or sitting is None or sitting.training_id != training.id:
        raise CheckinCodeInvalid("签到码对应的课次不存在")
    # The code is shared by everyone at the session (it is shown on a screen), so "used" means
    # used by this member: the nonce is remembered per member in Redis for as long as the code
    # lives. The attendance row cannot stand in for it: it says whether the member is present,
    # not which code made them so. Without the nonce, scanning the same code again could not be
    # told from checking in again with a new one (`checkin_code_used` and `already_checked_in`
    # would merge), and once the roll marks a checked-in member absent, the code they used
    # would work again. (A column holding the nonce on the row would let the upsert below decide
    # both.) SET NX is atomic, so of two scans of one code by one member exactly one passes.
    # It is set before the database write commits: a failure after this burns the code for
    # this member only, and a fresh code (shown every few minutes) works.
    ttl = max(1, int((claims.expires_at - checkin.now()).total_seconds()) + 1)
    fresh = await redis.set(f"checkin:{claims.nonce}:{member_id}", "1", nx=True, ex=ttl)
    if not fresh:
        raise CheckinCodeUsed("同一签到码每人只能使用一次")
    before = await _before(session, sitting, [member_id])
    # Whether the member is already present is decided by the upsert alone: it writes nothing
    # over a row that is present, and of two check-ins at once the second waits for the first
    # to commit, then finds it present.
    rows = await _mark(
        session,
        training,
        sitting,
        [member_id],
        True,
        AttendanceSource.checkin,
        unless_present=True,
    )
    if not rows:
        raise AlreadyCheckedIn("您已签到过该课次，无需重复签到")
    _audit(session, principal.actor, sitting, rows, before, {member_id: enrollment.village_code})
    row = rows[0]
    return CheckinOut(
        training_id=training.id,
        session_id=sitting.id,
        member_id=member_id,
        checked_in_at=row.recorded_at,
    )
