from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Query, Request, status

from app.core.auth import Staff, Villager
from app.core.deps import Pagination, ReadSession, Session
from app.core.errors import problem_responses
from app.core.routing import api_router, instant_from, instant_to
from app.core.types import Instant
from app.households.errors import MemberNotFound
from app.policy.values import TrainingType
from app.regions.errors import RegionNotFound
from app.trainings import attendance, service
from app.trainings.errors import (
    AlreadyCheckedIn,
    AlreadyEnrolled,
    CheckinCodeExpired,
    CheckinCodeInvalid,
    CheckinCodeUsed,
    EnrollmentNotFound,
    MemberNotEnrolled,
    NotEnrolled,
    SessionNotFound,
    SessionNotOpen,
    TrainingNotFound,
)
from app.trainings.schemas import (
    AttendanceIn,
    AttendancePage,
    AttendanceRecords,
    CancellationOut,
    CheckinCode,
    CheckinIn,
    CheckinOut,
    CompletionIn,
    EnrollmentIn,
    EnrollmentOut,
    MemberTrainingPage,
    TrainingDetail,
    TrainingIn,
    TrainingPage,
)

router = api_router("", tags=["trainings"])


@router.post(
    "/trainings",
    summary="Create a training",
    name="create",
    status_code=status.HTTP_201_CREATED,
    response_model=TrainingDetail,
    responses=problem_responses(RegionNotFound),
)
async def create_training(body: TrainingIn, caller: Staff, session: Session) -> TrainingDetail:
    """A course held in one of your regions (a region outside them answers 404). Without
    `sessions`, the course is one session spanning `starts_at` to `ends_at`."""
    return await service.create_training(session, caller, body)


@router.get("/trainings", summary="List trainings", name="list", response_model=TrainingPage)
async def list_trainings(
    caller: Staff,
    session: ReadSession,
    page: Pagination,
    type: TrainingType | None = None,
    from_: Annotated[Instant | None, instant_from("Starting")] = None,
    to: Annotated[Instant | None, instant_to("Starting")] = None,
) -> TrainingPage:
    """Trainings held within your regions, latest start first, with how many are enrolled
    and waitlisted."""
    filters = service.TrainingFilters(type=type, starts_from=from_, starts_to=to)
    items, cursor = await service.list_trainings(session, caller, filters, page)
    return TrainingPage(items=items, next_cursor=cursor)


@router.get(
    "/trainings/{training_id}",
    summary="Get a training with its sessions",
    name="get",
    response_model=TrainingDetail,
    responses=problem_responses(TrainingNotFound),
)
async def get_training(
    training_id: uuid.UUID, caller: Staff, session: ReadSession
) -> TrainingDetail:
    """The training, its sessions in order, and its enrolled and waitlisted counts."""
    return await service.get_training(session, caller, training_id)


@router.post(
    "/trainings/{training_id}/enrollments",
    summary="Enrol a member",
    status_code=status.HTTP_201_CREATED,
    response_model=EnrollmentOut,
    responses=problem_responses(TrainingNotFound, MemberNotFound, AlreadyEnrolled),
)
async def enroll(
    training_id: uuid.UUID,
    body: EnrollmentIn,
    caller: Staff,
    session: Session,
) -> EnrollmentOut:
    """`enrolled` while places remain, else `waitlisted` with a position (1 = next in line).
    A member already on the list answers 409."""
    return await service.enroll(session, caller, training_id, body.member_id)


@router.delete(
    "/trainings/{training_id}/enrollments/{member_id}",
    summary="Cancel an enrolment",
    response_model=CancellationOut,
    responses=problem_responses(TrainingNotFound, MemberNotFound, EnrollmentNotFound),
)
async def cancel(
    training_id: uuid.UUID,
    member_id: uuid.UUID,
    caller: Staff,
    session: Session,
) -> CancellationOut:
    """Takes the member off the course. A freed place goes, in the same transaction, to the
    first member on the waiting list (`promoted_member_id`)."""
    return await service.cancel(session, caller, training_id, member_id)


@router.post(
    "/trainings/{training_id}/attendance",
    summary="Take the roll for a session",
    response_model=AttendanceRecords,
    responses=problem_responses(
        TrainingNotFound, SessionNotFound, MemberNotFound, MemberNotEnrolled
    ),
)
async def record_attendance(
    training_id: uuid.UUID,
    body: AttendanceIn,
    caller: Staff,
    session: Session,
) -> AttendanceRecords:
    """Marks enrolled members present (or absent) at one session, answering one row per
    member marked (`items`). Marking again updates the same row. Members not enrolled (or only
    waitlisted) answer 422, members living outside your regions 404 `member_not_found`, and
    nothing is recorded."""
    items = await attendance.record_attendance(session, caller, training_id, body)
    return AttendanceRecords(items=items)


@router.get(
    "/trainings/{training_id}/attendance",
    summary="List attendance",
    response_model=AttendancePage,
    responses=problem_responses(TrainingNotFound),
)
async def list_attendance(
    training_id: uuid.UUID,
    caller: Staff,
    session: ReadSession,
    page: Pagination,
    session_id: Annotated[
        uuid.UUID | None, Query(description="Only this session (`sessions[].id`)")
    ] = None,
) -> AttendancePage:
    """Who attended which session (from the roll or a check-in), by session, then member: the
    members living in your regions."""
    items, cursor = await attendance.list_attendance(session, caller, training_id, session_id, page)
    return AttendancePage(items=items, next_cursor=cursor)


@router.get(
    "/trainings/{training_id}/checkin-code",
    summary="Get a check-in code for a session",
    response_model=CheckinCode,
    responses=problem_responses(TrainingNotFound, SessionNotFound, SessionNotOpen),
)
async def get_checkin_code(
    training_id: uuid.UUID,
    session_id: Annotated[
        uuid.UUID,
        Query(description="The session to check in to (`sessions[].id` of the training)"),
    ],
    caller: Staff,
    session: ReadSession,
    request: Request,
) -> CheckinCode:
    """A signed code, valid a few minutes (policy `CHECKIN_CODE_TTL_SECONDS`, 300 by default),
    to show as a QR code. One per call; each villager may use a code once. Only from
    `CHECKIN_OPENS_BEFORE_SECONDS` (3600 by default) before the session starts until it ends
    (422 otherwise). Fetch a new one when it
    expires."""
    return await attendance.checkin_code(
        session, caller, request.app.state.settings.jwt_secret, training_id, session_id
    )


@router.post(
    "/trainings/{training_id}/completions",
    summary="Record a completion",
    response_model=EnrollmentOut,
    responses=problem_responses(TrainingNotFound, MemberNotFound, MemberNotEnrolled),
)
async def complete(
    training_id: uuid.UUID,
    body: CompletionIn,
    caller: Staff,
    session: Session,
) -> EnrollmentOut:
    """Records that an enrolled member completed the course, with the certificate number if
    one was issued. Sending it again corrects it."""
    return await service.complete(session, caller, training_id, body)


@router.get(
    "/members/{member_id}/trainings",
    summary="List a member's trainings",
    name="list_for_member",
    response_model=MemberTrainingPage,
    responses=problem_responses(MemberNotFound),
)
async def member_trainings(
    member_id: uuid.UUID, caller: Staff, session: ReadSession, page: Pagination
) -> MemberTrainingPage:
    """Every course the member is enrolled or waitlisted in, latest first, with completion
    and certificate."""
    items, cursor = await service.member_trainings(session, caller, member_id, page)
    return MemberTrainingPage(items=items, next_cursor=cursor)


@router.post(
    "/me/checkins",
    summary="Check in to a training session",
    status_code=status.HTTP_201_CREATED,
    response_model=CheckinOut,
    responses=problem_responses(
        CheckinCodeInvalid,
        CheckinCodeExpired,
        NotEnrolled,
        CheckinCodeUsed,
        AlreadyCheckedIn,
    ),
)
async def check_in(
    body: CheckinIn, caller: Villager, session: Session, request: Request
) -> CheckinOut:
    """Villagers post the code scanned from the coordinator's screen. Answers 400
    `checkin_code_invalid` for a damaged or forged code, 410 `checkin_code_expired`, 403
    `not_enrolled` unless you are enrolled (not waitlisted) in that training, 409
    `checkin_code_used` for a code you already used, 409 `already_checked_in` when you are
    already recorded present at that session."""
    return await attendance.check_in(
        session,
        request.app.state.redis,
        caller,
        request.app.state.settings.jwt_secret,
        body.code,
    )
