"""Reconciliation's routes: conflict items and a county's precedence rule."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Query

from app.core.auth import Manager, Staff
from app.core.deps import Pagination, ReadSession, Session
from app.core.errors import problem_responses
from app.core.periods import PERIOD_PATTERN
from app.core.routing import api_router
from app.feed import conflicts, precedence
from app.feed.conflict_schemas import (
    ConflictOut,
    ConflictPage,
    FeedSettingIn,
    FeedSettingOut,
    ResolutionIn,
)
from app.feed.errors import ConflictNotFound, ConflictResolved, NotCountyLevel
from app.feed.values import ConflictKind, ConflictStatus
from app.regions.errors import RegionNotFound

router = api_router("/feed", tags=["feed"])

CountyCode = Annotated[
    str | None,
    Query(
        # A county's code: its own two digits not both zero, nothing below it.
        pattern=r"^\d{4}(0[1-9]|[1-9]\d)0{6}$",
        description="A county's code: required of admins and of managers above county level; "
        "others default to their own county.",
    ),
]


@router.get(
    "/conflicts",
    summary="List reconciliation items",
    name="list_conflicts",
    response_model=ConflictPage,
)
async def list_conflicts(
    caller: Staff,
    session: ReadSession,
    page: Pagination,
    status: ConflictStatus | None = None,
    kind: ConflictKind | None = None,
    region: Annotated[
        str | None, Query(pattern=r"^\d{12}$", description="Items in this region or under it")
    ] = None,
    period: Annotated[str | None, Query(pattern=PERIOD_PATTERN, description="A month")] = None,
) -> ConflictPage:
    """Disagreements between the monitoring feed and our records in your villages or region,
    newest first. `employment` items carry both months (`ours`, `theirs`) with their sources
    and times; `id_number_invalid` and `id_number_shared` items the feed's record in question
    (`feed_record`, its ID number masked)."""
    filters = conflicts.ConflictFilters(status=status, kind=kind, region=region, period=period)
    items, cursor = await conflicts.list_conflicts(session, caller, filters, page)
    return ConflictPage(items=items, next_cursor=cursor)


@router.get(
    "/conflicts/{conflict_id}",
    summary="Get a reconciliation item",
    name="get_conflict",
    response_model=ConflictOut,
    responses=problem_responses(ConflictNotFound),
)
async def get_conflict(conflict_id: uuid.UUID, caller: Staff, session: ReadSession) -> ConflictOut:
    """One item in your scope; outside it answers 404 as a missing one does."""
    return await conflicts.get_conflict(session, caller, conflict_id)


@router.post(
    "/conflicts/{conflict_id}/resolution",
    summary="Resolve a reconciliation item",
    name="resolve_conflict",
    response_model=ConflictOut,
    responses=problem_responses(ConflictNotFound, ConflictResolved),
)
async def resolve_conflict(
    conflict_id: uuid.UUID, body: ResolutionIn, caller: Manager, session: Session
) -> ConflictOut:
    """Township and county managers (and admins) settle an open item in their region; a
    settled one answers 409 `conflict_resolved`. An `employment` item: `ours` records our
    month again as a manual entry observed now, so it stands and the next push-back sends it;
    `theirs` records the feed's month (source `feed`, observed when the feed changed it; not
    sent back); `value` records the month given in `value` (source `manual`, sent back).
    An ID-number item is `dismissed` once looked at. Any other combination, or `value`
    sent without `resolution: value` (or missing with it), answers 422. The month is audited as
    any recorded month is, and the resolution itself with `note` as its reason."""
    return await conflicts.resolve_conflict(session, caller, conflict_id, body)


@router.get(
    "/settings",
    summary="A county's feed settings",
    name="get_settings",
    response_model=FeedSettingOut,
    responses=problem_responses(RegionNotFound),
)
async def get_settings(
    caller: Manager, session: ReadSession, county_code: CountyCode = None
) -> FeedSettingOut:
    """The county's precedence rule: which side our working copy shows while the feed and a
    coordinator disagree about a month (`ours` until the county sets one)."""
    return await precedence.get_setting(session, caller, county_code)


@router.put(
    "/settings",
    summary="Set a county's feed settings",
    name="put_settings",
    response_model=FeedSettingOut,
    responses=problem_responses(RegionNotFound, NotCountyLevel),
)
async def put_settings(
    body: FeedSettingIn, caller: Manager, session: Session, county_code: CountyCode = None
) -> FeedSettingOut:
    """County managers (or managers above, or admins, naming the county) set the rule;
    township managers may read it but not change it (403 `not_county_level`). Audited;
    setting the rule the county already has changes nothing."""
    return await precedence.put_setting(session, caller, county_code, body.precedence)
