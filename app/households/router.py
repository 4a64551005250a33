from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Depends, Header, Path, Query, Request, Response

from app.core.auth import CurrentUser, Manager, Staff
from app.core.crypto import PiiCipher
from app.core.deps import CountyCode, Pagination, ReadSession, Session
from app.core.errors import NotFound, declares_problems, problem_responses
from app.core.periods import PERIOD_PATTERN
from app.core.preconditions import IF_MATCH_PATTERN, IfMatch, parse_if_match
from app.core.rate_limit import TooManyReveals, spend
from app.core.routing import api_router
from app.core.types import Text
from app.households import employment, service, settings
from app.households.errors import (
    BadIfMatch,
    HouseholdNotFound,
    InvalidIdNumber,
    MemberNotFound,
    StaleVersion,
    VersionRequired,
)
from app.households.schemas import (
    EmploymentIn,
    EmploymentOut,
    HouseholdDetail,
    HouseholdPage,
    IdNumberLookup,
    IntentIn,
    IntentOut,
    MemberOut,
    MemberPatch,
    RegistrySettingIn,
    RegistrySettingOut,
    RevealedIdNumber,
    RevealRequest,
)
from app.policy.values import EmploymentStatus, HouseholdCategory, LabourType, MonitorType
from app.regions.errors import NotCountyLevel, RegionNotFound

router = api_router("", tags=["households"])
# A member's answer carries its version as a strong ETag, to send back in `If-Match`.
ETAG_RESPONSE = {
    "headers": {
        "ETag": {
            "description": 'The member\'s version, e.g. `"3"`',
            "required": True,
            "schema": {"type": "string", "pattern": r'^"\d+"$'},
        }
    }
}


def _cipher(request: Request) -> PiiCipher:
    return PiiCipher.from_settings(request.app.state.settings)


def _if_match(value: str | None) -> IfMatch | None:
    if value is None:
        return None
    try:
        return parse_if_match(value)
    except ValueError:
        raise BadIfMatch('If-Match 应为成员的 ETag（例如 "3"）或 *') from None


@router.get("/households", summary="List households", name="list", response_model=HouseholdPage)
async def list_households(
    caller: CurrentUser,
    session: ReadSession,
    page: Pagination,
    village: Annotated[
        Text | None, Query(description="A village, or any region: everything under it")
    ] = None,
    category: HouseholdCategory | None = None,
    monitor_type: MonitorType | None = None,
    labour_type: Annotated[
        LabourType | None, Query(description="Households with a member of this labour type")
    ] = None,
    employment_status: Annotated[
        EmploymentStatus | None,
        Query(description="Households with a member of this status in `period`"),
    ] = None,
    period: Annotated[
        str | None, Query(pattern=PERIOD_PATTERN, description="Defaults to this month")
    ] = None,
    q: Annotated[
        Text | None,
        Query(
            min_length=1,
            max_length=32,
            description="Household number, or a member's name or surname (prefix)",
        ),
    ] = None,
) -> HouseholdPage:
    """Households within your scope, ordered by village and household number. A villager sees
    their own household only."""
    filters = service.HouseholdFilters(
        region=village,
        category=category,
        monitor_type=monitor_type,
        labour_type=labour_type,
        employment_status=employment_status,
        period=period,
        q=q,
    )
    items, cursor = await service.list_households(session, caller, filters, page)
    return HouseholdPage(items=items, next_cursor=cursor)


@router.get(
    "/households/{household_id}",
    summary="Get a household with its members",
    name="get",
    response_model=HouseholdDetail,
    responses=problem_responses(HouseholdNotFound),
)
async def get_household(
    household_id: uuid.UUID, caller: CurrentUser, session: ReadSession, request: Request
) -> HouseholdDetail:
    """The household, each member with their latest month of employment and their intent.
    ID numbers and phones are masked."""
    return await service.get_household(session, caller, _cipher(request), household_id)


@router.post(
    "/members/lookup",
    summary="Find a member by ID number",
    response_model=MemberOut,
    responses=problem_responses(MemberNotFound, InvalidIdNumber),
)
async def lookup_member(
    body: IdNumberLookup, caller: Staff, session: ReadSession, request: Request
) -> MemberOut:
    """Exact match on the 18-character ID number (through its keyed hash; the number itself is
    never stored in clear). A POST so the number stays out of URLs and their logs."""
    return await service.find_by_id_number(session, caller, _cipher(request), body.id_number)


@router.get(
    "/members/{member_id:uuid}",
    summary="Get a member",
    response_model=MemberOut,
    responses={**problem_responses(MemberNotFound, NotFound), 200: ETAG_RESPONSE},
)
async def get_member(
    member_id: uuid.UUID,
    caller: CurrentUser,
    session: ReadSession,
    request: Request,
    response: Response,
) -> MemberOut:
    """One member; the `ETag` header carries the version to send back in `If-Match`."""
    member = await service.get_member(session, caller, _cipher(request), member_id)
    response.headers["ETag"] = f'"{member.version}"'
    return member


@router.patch(
    "/members/{member_id:uuid}",
    summary="Correct a member",
    response_model=MemberOut,
    responses={
        **problem_responses(MemberNotFound, NotFound, StaleVersion, VersionRequired, BadIfMatch),
        200: ETAG_RESPONSE,
    },
)
async def patch_member(
    member_id: uuid.UUID,
    body: MemberPatch,
    caller: Staff,
    session: Session,
    request: Request,
    response: Response,
    if_match: Annotated[
        str | None,
        Header(
            description='The ETag you read, e.g. `"3"`, compared strongly (`W/"3"` matches '
            "nothing); `*` for whatever version is current.",
            # Documented only: a malformed one answers 400 `invalid_if_match`, not 422.
            json_schema_extra={"pattern": IF_MATCH_PATTERN},
        ),
    ] = None,
) -> MemberOut:
    """Changes only the fields sent. A version other than the current one answers 412 and
    changes nothing. Every change is audited (personal fields by name only)."""
    member = await service.update_member(
        session, caller, _cipher(request), member_id, body, _if_match(if_match)
    )
    response.headers["ETag"] = f'"{member.version}"'
    return member


@router.put(
    "/members/{member_id}/employment/{period}",
    summary="Record a month of employment",
    response_model=EmploymentOut,
    responses=problem_responses(MemberNotFound),
)
async def put_employment(
    member_id: uuid.UUID,
    period: Annotated[str, Path(pattern=PERIOD_PATTERN, examples=["2026-11"])],
    body: EmploymentIn,
    caller: Staff,
    session: Session,
) -> EmploymentOut:
    """Creates or replaces the member's employment for that month (source `manual`)."""
    return await employment.put_employment(session, caller, member_id, period, body)


@router.put(
    "/members/{member_id}/intent",
    summary="Record a member's employment intent",
    response_model=IntentOut,
    responses=problem_responses(MemberNotFound),
)
async def put_intent(
    member_id: uuid.UUID, body: IntentIn, caller: Staff, session: Session
) -> IntentOut:
    """外出 / 就近 / 无意愿; 无意愿 needs a reason (those are kept as a ledger)."""
    return await employment.put_intent(session, caller, member_id, body)


@declares_problems(TooManyReveals)
async def count_reveal(request: Request, caller: Manager, session: ReadSession) -> None:
    """Full ID numbers a manager may see: their county's cap (`ID_REVEAL_MAX` until it sets
    one, by default 30) in `ID_REVEAL_WINDOW_SECONDS` (an hour), counted before the reveal,
    whether it finds the member or not."""
    state = request.app.state
    await spend(
        state.redis,
        "reveal",
        caller.user.id,
        limit=await settings.reveal_limit(session, caller, state.settings.id_reveal_max),
        window_seconds=state.settings.id_reveal_window_seconds,
        error=TooManyReveals,
    )


RevealAllowed = Annotated[None, Depends(count_reveal)]


@router.post(
    "/members/{member_id}/id-number/reveal",
    summary="Reveal a member's full ID number",
    response_model=RevealedIdNumber,
    responses=problem_responses(MemberNotFound),
)
async def reveal_id_number(
    member_id: uuid.UUID,
    body: RevealRequest,
    caller: Manager,
    _: RevealAllowed,
    session: Session,
    request: Request,
) -> RevealedIdNumber:
    """Managers only, with a stated reason; every reveal is written to the audit log."""
    number = await service.reveal_id_number(
        session, caller, _cipher(request), member_id, body.reason
    )
    return RevealedIdNumber(member_id=member_id, id_number=number)


@router.get(
    "/registry/settings",
    summary="A county's registry settings",
    name="get-settings",
    response_model=RegistrySettingOut,
    responses=problem_responses(RegionNotFound),
)
async def get_registry_settings(
    request: Request, caller: Manager, session: ReadSession, county_code: CountyCode = None
) -> RegistrySettingOut:
    """The county's cap on full ID-number reveals per manager and hour."""
    default = request.app.state.settings.id_reveal_max
    return await settings.get_setting(session, caller, county_code, default)


@router.put(
    "/registry/settings",
    summary="Set a county's registry settings",
    name="put-settings",
    response_model=RegistrySettingOut,
    responses=problem_responses(RegionNotFound, NotCountyLevel),
)
async def put_registry_settings(
    request: Request,
    body: RegistrySettingIn,
    caller: Manager,
    session: Session,
    county_code: CountyCode = None,
) -> RegistrySettingOut:
    """County managers (or managers above, or admins, naming the county) set the cap;
    township managers may read it but not change it (403 `not_county_level`). Audited."""
    default = request.app.state.settings.id_reveal_max
    return await settings.put_setting(session, caller, county_code, body.id_reveal_max, default)
