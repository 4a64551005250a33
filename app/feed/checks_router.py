"""Data checks: the rules, their findings per household, and exemptions."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Query, Request, Response, status

from app.core.auth import Manager, Staff
from app.core.crypto import PiiCipher
from app.core.deps import Pagination, ReadSession, Session
from app.core.errors import problem_responses
from app.core.routing import api_router
from app.feed import check_exemptions, checks
from app.feed.checks_errors import ExemptionExists, ExemptionNotFound
from app.feed.checks_schemas import (
    CheckRulePage,
    ExemptionIn,
    ExemptionOut,
    ExemptionPage,
    FindingPage,
)
from app.households.errors import HouseholdNotFound, MemberNotFound
from app.policy.data_checks import CheckCode

router = api_router("/feed", tags=["feed"])

Region = Annotated[
    str | None, Query(pattern=r"^\d{12}$", description="A region: everything under it")
]


@router.get(
    "/check-rules",
    summary="Data-check rules",
    name="list_check_rules",
    response_model=CheckRulePage,
)
async def list_check_rules(caller: Staff) -> CheckRulePage:
    """Every data check run after each import and pull: its stable code, title and what it
    looks for."""
    return CheckRulePage(items=checks.rules(), next_cursor=None)


@router.get(
    "/findings", summary="Data-check findings", name="list_findings", response_model=FindingPage
)
async def list_findings(
    caller: Staff,
    session: ReadSession,
    page: Pagination,
    rule: CheckCode | None = None,
    region: Region = None,
    household_id: Annotated[uuid.UUID | None, Query(description="One household's")] = None,
) -> FindingPage:
    """What the data checks found in your scope as of the last import or pull, household by
    household (by village, then household). Each finding names the rule, the household, the
    member (null for a rule about the household), the month an employment rule looked at,
    the figures behind it, and when it was first and last found. A region outside your scope
    answers an empty page."""
    filters = checks.FindingFilters(rule=rule, region=region, household_id=household_id)
    items, cursor = await checks.list_findings(session, caller, filters, page)
    return FindingPage(items=items, next_cursor=cursor)


@router.post(
    "/check-exemptions",
    summary="Exempt a household or member from a data check",
    name="create_check_exemption",
    status_code=status.HTTP_201_CREATED,
    response_model=ExemptionOut,
    responses=problem_responses(HouseholdNotFound, MemberNotFound, ExemptionExists),
)
async def create_check_exemption(
    body: ExemptionIn, caller: Manager, session: Session
) -> ExemptionOut:
    """Township and county users say a rule does not apply to a household in their region
    (or, with `member_id`, to one of its members), with a reason. Its findings go at once and
    no refresh brings them back. A household outside your region answers 404; the same rule
    exempted twice for the same household or member 409. Audited."""
    return await check_exemptions.create_exemption(session, caller, body)


@router.get(
    "/check-exemptions",
    summary="Data-check exemptions",
    name="list_check_exemptions",
    response_model=ExemptionPage,
)
async def list_check_exemptions(
    caller: Staff,
    session: ReadSession,
    page: Pagination,
    rule: CheckCode | None = None,
    region: Region = None,
    household_id: Annotated[uuid.UUID | None, Query(description="One household's")] = None,
) -> ExemptionPage:
    """Exemptions of households in your scope, newest first."""
    filters = check_exemptions.ExemptionFilters(rule=rule, region=region, household_id=household_id)
    items, cursor = await check_exemptions.list_exemptions(session, caller, filters, page)
    return ExemptionPage(items=items, next_cursor=cursor)


@router.delete(
    "/check-exemptions/{exemption_id}",
    summary="Lift a data-check exemption",
    name="delete_check_exemption",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    responses=problem_responses(ExemptionNotFound),
)
async def delete_check_exemption(
    exemption_id: uuid.UUID, caller: Manager, session: Session, request: Request
) -> None:
    """The rule applies to the household (or member) again: its village is checked at once.
    An exemption outside your region answers 404. Audited."""
    cipher = PiiCipher.from_settings(request.app.state.settings)
    await check_exemptions.delete_exemption(session, caller, cipher, exemption_id)
