from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Query, Request, Response, status

from app.core.auth import Staff
from app.core.deps import Pagination, ReadSession
from app.core.errors import problem_responses
from app.core.routing import api_router, instant_from, instant_to
from app.core.types import Instant
from app.households.errors import HouseholdNotFound
from app.visits import service
from app.visits.errors import MemberNotInHousehold, VisitIdConflict
from app.visits.schemas import VisitIn, VisitOut, VisitPage

router = api_router("/visits", tags=["visits"])


@router.post(
    "",
    summary="Record a household visit",
    name="record",
    status_code=status.HTTP_201_CREATED,
    response_model=VisitOut,
    responses={
        200: {"model": VisitOut, "description": "The same visit sent again: the stored one."},
        **problem_responses(
            HouseholdNotFound,
            VisitIdConflict,
            MemberNotInHousehold,
        ),
    },
)
async def record_visit(body: VisitIn, caller: Staff, request: Request) -> Response:
    """Records a visit to a household in your villages, and what it found about members
    (this month's employment, intent) in the same transaction. The phone picks `id`: sending
    the same id and body again answers the stored visit (200) without a second row; the same
    id with a different body answers 409. A location farther from the village's recorded
    centre than policy allows is accepted and flagged `needs_review`. Coordinators, managers
    and admins only."""
    visit, created = await service.record_visit(request.app.state.visit_writer, caller, body)
    # Serialised here, once: the model was just built from the stored row.
    return Response(
        visit.model_dump_json(),
        status_code=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        media_type="application/json",
    )


@router.get("", summary="List visits", name="list", response_model=VisitPage)
async def list_visits(
    caller: Staff,
    session: ReadSession,
    page: Pagination,
    household_id: uuid.UUID | None = None,
    coordinator: Annotated[uuid.UUID | None, Query(description="The visiting account")] = None,
    from_: Annotated[Instant | None, instant_from("Visited")] = None,
    to: Annotated[Instant | None, instant_to("Visited")] = None,
    needs_review: Annotated[
        bool | None, Query(description="Only visits flagged (or not) for their location")
    ] = None,
) -> VisitPage:
    """Visits within your regions, newest first. `needs_review=true` lists the visits logged
    too far from their village, for a supervisor to check."""
    filters = service.VisitFilters(
        household_id=household_id,
        coordinator_id=coordinator,
        visited_from=from_,
        visited_to=to,
        needs_review=needs_review,
    )
    items, cursor = await service.list_visits(session, caller, filters, page)
    return VisitPage(items=items, next_cursor=cursor)
