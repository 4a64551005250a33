"""The alerts' endpoints: listing and reading alerts, a person's steps on them, and runs."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Query, status

from app.alerts import runs, service
from app.alerts.errors import (
    AlertNotFound,
    AlertRunNotFound,
    FuturePeriod,
    IllegalAlertTransition,
    PeriodSuperseded,
    RegionRequired,
)
from app.alerts.schemas import (
    AlertOut,
    AlertPage,
    AlertResolutionIn,
    AlertRunAccepted,
    AlertRunIn,
    AlertRunOut,
    AlertRunPage,
)
from app.core.auth import Manager, Staff
from app.core.deps import Pagination, ReadSession, Session
from app.core.errors import problem_responses
from app.core.periods import PERIOD_PATTERN
from app.core.routing import api_router
from app.policy.alerts import AlertRule, AlertStatus
from app.regions.errors import RegionNotFound

router = api_router("", tags=["alerts"])

_STEP_PROBLEMS = problem_responses(AlertNotFound, IllegalAlertTransition)


@router.get(
    "/alerts",
    summary="List alerts",
    name="list",
    response_model=AlertPage,
    responses=problem_responses(RegionNotFound),
)
async def list_alerts(
    caller: Staff,
    session: ReadSession,
    page: Pagination,
    period: Annotated[
        str | None,
        Query(pattern=PERIOD_PATTERN, description="Episodes covering this month (YYYY-MM)"),
    ] = None,
    rule: AlertRule | None = None,
    status: AlertStatus | None = None,
    region: Annotated[
        str | None, Query(pattern=r"^\d{12}$", description="Alerts in this region or under it")
    ] = None,
) -> AlertPage:
    """Alerts of your villages (coordinators) or your region (managers, regional alerts
    included), newest first. An alert is an episode: one per condition while it lasts, with
    its evidence by month. `period` lists the episodes that cover the month: opened in it or
    before, and still found by a run in it."""
    filters = service.AlertFilters(period=period, rule=rule, status=status, region=region)
    items, cursor = await service.list_alerts(session, caller, filters, page)
    return AlertPage(items=items, next_cursor=cursor)


@router.get(
    "/alerts/{alert_id}",
    summary="Get an alert",
    name="get",
    response_model=AlertOut,
    responses=problem_responses(AlertNotFound),
)
async def get_alert(alert_id: uuid.UUID, caller: Staff, session: ReadSession) -> AlertOut:
    """One alert with its evidence by month, its member and household, and who acknowledged
    and resolved it."""
    return await service.get_alert(session, caller, alert_id)


@router.post(
    "/alerts/{alert_id}/ack",
    summary="Acknowledge an alert",
    name="acknowledge",
    response_model=AlertOut,
    responses=_STEP_PROBLEMS,
)
async def acknowledge(alert_id: uuid.UUID, caller: Staff, session: Session) -> AlertOut:
    """open → acknowledged. Audited. Any other state answers 409."""
    return await service.acknowledge(session, caller, alert_id)


@router.post(
    "/alerts/{alert_id}/resolution",
    summary="Resolve an alert",
    name="resolve",
    response_model=AlertOut,
    responses=_STEP_PROBLEMS,
)
async def resolve(
    alert_id: uuid.UUID, body: AlertResolutionIn, caller: Staff, session: Session
) -> AlertOut:
    """open or acknowledged → resolved, with the action taken (职业指导, 职业介绍, 技能培训,
    公益性岗位安置, 其他) and a note. Audited. A resolved episode stays current while its
    condition holds (its months keep counting) and ends when it stops; a condition that
    returns after that opens a new alert. An alert already resolved or auto_resolved answers
    409."""
    return await service.resolve(session, caller, alert_id, body)


@router.post(
    "/alert-runs",
    summary="Compute a month's alerts",
    name="request_run",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=AlertRunAccepted,
    responses=problem_responses(RegionNotFound, PeriodSuperseded, FuturePeriod, RegionRequired),
)
async def request_run(body: AlertRunIn, caller: Manager, session: Session) -> AlertRunAccepted:
    """A manager (or an admin, naming `region`) asks for `period`'s alerts over their region,
    or `region` within it; a worker computes them (follow it with `GET /alert-runs/{id}`).
    Recomputing the latest month computed for the region is allowed and changes only what
    the data changed; an earlier month answers 409 `period_superseded`. Audited."""
    return await runs.request_run(session, caller, body)


@router.get(
    "/alert-runs",
    summary="List alert runs",
    name="list_runs",
    response_model=AlertRunPage,
)
async def list_runs(caller: Manager, session: ReadSession, page: Pagination) -> AlertRunPage:
    """Runs over your region or a region containing it (the county's scheduled runs),
    newest first."""
    items, cursor = await runs.list_runs(session, caller, page)
    return AlertRunPage(items=items, next_cursor=cursor)


@router.get(
    "/alert-runs/{alert_run_id}",
    summary="An alert run's progress and counts",
    name="get_run",
    response_model=AlertRunOut,
    responses=problem_responses(AlertRunNotFound),
)
async def get_run(alert_run_id: uuid.UUID, caller: Manager, session: ReadSession) -> AlertRunOut:
    """Its status (queued, running, succeeded, failed), rules evaluated so far of the total
    (live), and what it did: episodes opened, continued and ended, and digest notifications
    written."""
    return await runs.get_run(session, caller, alert_run_id)
