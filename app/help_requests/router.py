from __future__ import annotations

import uuid

from fastapi import Response, status

from app.core.auth import CurrentUser, Manager, Staff, Villager
from app.core.deps import CountyCode, Pagination, ReadSession, Session
from app.core.errors import problem_responses
from app.core.routing import api_router
from app.help_requests import service, settings, worklist
from app.help_requests.errors import (
    CoordinatorsOnly,
    HelpRequestIdConflict,
    HelpRequestNotFound,
    IllegalTransition,
    NotBoundToMember,
    StaffFileForAMember,
)
from app.help_requests.models import HelpStatus
from app.help_requests.schemas import (
    HelpRequestDetail,
    HelpRequestIn,
    HelpRequestOut,
    HelpRequestPage,
    HelpRequestSettingIn,
    HelpRequestSettingOut,
    MessageIn,
    RatingIn,
    ReferIn,
    ResolveIn,
    TaskPage,
)
from app.households.errors import MemberNotFound
from app.policy.values import HelpCategory
from app.regions.errors import NotCountyLevel, RegionNotFound

router = api_router("", tags=["help-requests"])

_STEP_PROBLEMS = problem_responses(HelpRequestNotFound, IllegalTransition)


@router.post(
    "/help-requests",
    summary="Ask for help",
    name="file",
    status_code=status.HTTP_201_CREATED,
    response_model=HelpRequestOut,
    responses={
        200: {
            "model": HelpRequestOut,
            "description": "The same request sent again: the stored one.",
        },
        **problem_responses(
            MemberNotFound, HelpRequestIdConflict, NotBoundToMember, StaffFileForAMember
        ),
    },
)
async def file_request(
    body: HelpRequestIn, caller: CurrentUser, session: Session, response: Response
) -> HelpRequestOut:
    """A villager bound to a member asks for help; a coordinator (or manager) may file on a
    villager's behalf after a call or a visit, naming `member_id` (a member of their
    villages). The request goes to the coordinators of the member's village, or, when the
    village has none, to its township's managers (`routed_to`), and its first-response
    deadline starts (the county's time, 24 hours unless set). The phone picks `id`: the same
    id and body again answers the stored request (200); the same id with a different body
    answers 409."""
    out, created = await service.file_request(session, caller, body)
    if not created:
        response.status_code = status.HTTP_200_OK
    return out


@router.get(
    "/help-requests", summary="List help requests", name="list", response_model=HelpRequestPage
)
async def list_requests(
    caller: CurrentUser,
    session: ReadSession,
    page: Pagination,
    status: HelpStatus | None = None,
    category: HelpCategory | None = None,
) -> HelpRequestPage:
    """A villager's own requests; staff's those of their regions. Newest first."""
    filters = service.RequestFilters(status=status, category=category)
    items, cursor = await service.list_requests(session, caller, filters, page)
    return HelpRequestPage(items=items, next_cursor=cursor)


@router.get(
    "/help-requests/settings",
    summary="A county's help-request settings",
    name="get_settings",
    response_model=HelpRequestSettingOut,
    responses=problem_responses(RegionNotFound),
)
async def get_settings(
    caller: Manager, session: ReadSession, county_code: CountyCode = None
) -> HelpRequestSettingOut:
    """How long the county allows for a first response (24 hours until it sets its own)."""
    return await settings.get_setting(session, caller, county_code)


@router.put(
    "/help-requests/settings",
    summary="Set a county's help-request settings",
    name="put_settings",
    response_model=HelpRequestSettingOut,
    responses=problem_responses(RegionNotFound, NotCountyLevel),
)
async def put_settings(
    body: HelpRequestSettingIn, caller: Manager, session: Session, county_code: CountyCode = None
) -> HelpRequestSettingOut:
    """County managers (or managers above, or admins, naming the county) set the time; township
    managers may read it but not change it (403). Audited. Requests filed from then on run
    against it; deadlines already running keep theirs."""
    return await settings.put_setting(session, caller, county_code, body.first_response_hours)


@router.get(
    "/help-requests/{help_request_id}",
    summary="Get a help request and its thread",
    name="get",
    response_model=HelpRequestDetail,
    responses=problem_responses(HelpRequestNotFound),
)
async def get_request(
    help_request_id: uuid.UUID, caller: CurrentUser, session: ReadSession
) -> HelpRequestDetail:
    """The request, its running deadline, and its thread: every step (who, when) and every
    message of either side, oldest first. Readable by the villager who asked and by staff of
    the village."""
    return await service.get_request(session, caller, help_request_id)


@router.post(
    "/help-requests/{help_request_id}/accept",
    summary="Accept a help request",
    response_model=HelpRequestOut,
    responses=_STEP_PROBLEMS,
)
async def accept(help_request_id: uuid.UUID, caller: Staff, session: Session) -> HelpRequestOut:
    """submitted (or referred, by the township's managers) → accepted: the first response.
    A 技能培训 request then runs against the 15-day rule: the member enrolled on a training
    within 15 days."""
    return await service.accept(session, caller, help_request_id)


@router.post(
    "/help-requests/{help_request_id}/respond",
    summary="Write in a help request's thread",
    response_model=HelpRequestOut,
    responses=_STEP_PROBLEMS,
)
async def respond(
    help_request_id: uuid.UUID, body: MessageIn, caller: CurrentUser, session: Session
) -> HelpRequestOut:
    """A message both sides read. Staff write once they have accepted the request (their first
    message puts it `in_progress`); the villager who asked writes while it is open (until it
    is rated or withdrawn)."""
    return await service.respond(session, caller, help_request_id, body.message)


@router.post(
    "/help-requests/{help_request_id}/resolve",
    summary="Resolve a help request",
    response_model=HelpRequestOut,
    responses=_STEP_PROBLEMS,
)
async def resolve(
    help_request_id: uuid.UUID, body: ResolveIn, caller: Staff, session: Session
) -> HelpRequestOut:
    """accepted or in_progress → resolved, saying what was done; the villager may then rate
    it."""
    return await service.resolve(session, caller, help_request_id, body.summary)


@router.post(
    "/help-requests/{help_request_id}/refer",
    summary="Refer a help request to the township",
    response_model=HelpRequestOut,
    responses=problem_responses(HelpRequestNotFound, IllegalTransition, CoordinatorsOnly),
)
async def refer(
    help_request_id: uuid.UUID, body: ReferIn, caller: Staff, session: Session
) -> HelpRequestOut:
    """A coordinator hands a request not yet accepted to the township's managers, saying why:
    submitted → referred. The township then has the county's first-response time to accept
    it."""
    return await service.refer(session, caller, help_request_id, body.reason)


@router.post(
    "/help-requests/{help_request_id}/withdraw",
    summary="Withdraw my help request",
    response_model=HelpRequestOut,
    responses=_STEP_PROBLEMS,
)
async def withdraw(
    help_request_id: uuid.UUID, caller: Villager, session: Session
) -> HelpRequestOut:
    """The villager who asked withdraws it, any time before it is resolved."""
    return await service.withdraw(session, caller, help_request_id)


@router.post(
    "/help-requests/{help_request_id}/rating",
    summary="Rate the outcome of my help request",
    name="rate",
    response_model=HelpRequestOut,
    responses=_STEP_PROBLEMS,
)
async def rate(
    help_request_id: uuid.UUID, body: RatingIn, caller: Villager, session: Session
) -> HelpRequestOut:
    """The villager who asked rates a resolved request once (1–5, and a comment): resolved →
    rated. Ratings are kept for the evaluation of the staff who handled it."""
    return await service.rate(session, caller, help_request_id, body.score, body.comment)


@router.get("/me/tasks", summary="What waits for me", name="my_tasks", response_model=TaskPage)
async def my_tasks(caller: Staff, session: ReadSession, page: Pagination) -> TaskPage:
    """For a coordinator, the open help requests of their villages that their village handles;
    for a manager, every open request of their region. Overdue first, then by nearest
    deadline, then those with no deadline running (oldest first)."""
    items, cursor = await worklist.my_tasks(session, caller, page)
    return TaskPage(items=items, next_cursor=cursor)
