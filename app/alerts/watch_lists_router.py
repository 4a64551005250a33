"""The monthly watch lists (返乡回流, 有意愿外出, 就业不稳定), the 无就业意愿 ledger, and the
households whose risk may be cleared."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path, Query

from app.alerts import watch_lists
from app.alerts.watch_lists_schemas import WatchList, WatchListPage
from app.core.auth import Staff
from app.core.deps import Pagination, ReadSession
from app.core.errors import problem_responses
from app.core.periods import PERIOD_PATTERN, current_period
from app.core.routing import api_router
from app.regions.errors import RegionNotFound

router = api_router("", tags=["watch-lists"])


@router.get(
    "/watch-lists/{name}",
    summary="A watch list for a month",
    name="get",
    response_model=WatchListPage,
    responses=problem_responses(RegionNotFound),
)
async def get_watch_list(
    name: Annotated[WatchList, Path(description="Which list")],
    caller: Staff,
    session: ReadSession,
    page: Pagination,
    period: Annotated[
        str | None, Query(pattern=PERIOD_PATTERN, description="A month; defaults to this one")
    ] = None,
    region: Annotated[
        str | None,
        Query(pattern=r"^\d{12}$", description="A region in your scope; defaults to all of it"),
    ] = None,
) -> WatchListPage:
    """People (or, for `risk_clearable`, households) on the list in your villages or region,
    each with the figures that put them on it:

    - `returned_home` 返乡回流: recorded this month as not working, last month working 省外 or
      省内县外;
    - `willing_to_go_out` 有意愿外出: current intent 外出 (intent has no monthly history: the
      list is today's whatever `period` says);
    - `unstable_employment` 就业不稳定: in the 12 months ending with `period`, fewer working
      months than the county's `min_months_employed` (at least one), or at least
      `max_employer_changes` changes of employer (`GET /alert-rules`);
    - `no_intent_ledger` 无就业意愿台账: current intent 无意愿, with its reason, when and by
      whom recorded (today's, as for intent);
    - `risk_clearable`: 脱贫 or 监测 households not marked 风险消除, with labour force, whose
      annualised wage income per head reached the monitoring line of the month's year in each
      of the 6 months ending with `period`, every one of them recorded.

    A region outside your scope answers 404."""
    return await watch_lists.watch_list(
        session, caller, name, period=period or current_period(), region_code=region, page=page
    )
