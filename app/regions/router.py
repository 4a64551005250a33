from __future__ import annotations

from typing import Annotated

from fastapi import Path, Query

from app.core.auth import CurrentUser
from app.core.deps import Pagination, ReadSession
from app.core.errors import problem_responses
from app.core.routing import api_router
from app.core.types import Text
from app.regions import service
from app.regions.errors import RegionNotFound
from app.regions.schemas import RegionDetail, RegionOut, RegionPage

router = api_router("/regions", tags=["regions"])

RegionCode = Annotated[Text, Path(description="12-digit division code", examples=["450226100201"])]


@router.get(
    "",
    summary="List regions",
    name="list",
    response_model=RegionPage,
    responses=problem_responses(RegionNotFound),
)
async def list_regions(
    session: ReadSession,
    caller: CurrentUser,
    page: Pagination,
    parent: Annotated[
        Text | None,
        Query(description="List the children of this region", examples=["450226000000"]),
    ] = None,
) -> RegionPage:
    """Children of `parent` within your scope; without `parent`, the regions you are assigned
    (every province for an admin). A parent outside your scope answers 404."""
    items, cursor = await service.list_regions(session, caller.scope, parent, page)
    return RegionPage(items=[RegionOut.model_validate(r) for r in items], next_cursor=cursor)


@router.get(
    "/{code}",
    summary="Get one region",
    name="get",
    response_model=RegionDetail,
    responses=problem_responses(RegionNotFound),
)
async def get_region(code: RegionCode, session: ReadSession, caller: CurrentUser) -> RegionDetail:
    """One region with its ancestors (for breadcrumbs) and how many children it has.
    A region outside your scope answers 404, exactly like a missing one."""
    return await service.get_region(session, caller.scope, code)
