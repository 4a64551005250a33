"""What counties and regions set for the monthly alerts: rule thresholds and the run day
(`/alert-rules`), monitoring income lines (`/monitoring-lines`) and employment targets
(`/employment-targets`)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path, Query, Response, status

from app.alerts import lines, settings, targets
from app.alerts.settings_errors import (
    EmploymentTargetNotFound,
    MonitoringLineNotFound,
    RegionNotManaged,
)
from app.alerts.settings_schemas import (
    AlertSettingsIn,
    AlertSettingsOut,
    EffectiveLineOut,
    EmploymentTargetIn,
    EmploymentTargetOut,
    EmploymentTargetPage,
    MonitoringLineIn,
    MonitoringLineOut,
    MonitoringLinePage,
)
from app.core.auth import Manager, Staff
from app.core.deps import CountyCode, Pagination, ReadSession, Session
from app.core.errors import problem_responses
from app.core.routing import api_router
from app.regions.errors import NotCountyLevel, RegionNotFound

router = api_router("", tags=["alert-settings"])

CODE = r"^\d{12}$"
RegionPath = Annotated[str, Path(pattern=CODE, description="12-digit division code")]
YearPath = Annotated[int, Path(ge=2000, le=2100, description="A calendar year")]
RegionQuery = Annotated[
    str | None, Query(pattern=CODE, description="Only values on this region's path")
]
YearQuery = Annotated[int | None, Query(ge=2000, le=2100, description="Only this year's")]


@router.get(
    "/alert-rules",
    summary="A county's alert rules and thresholds",
    name="get_rules",
    response_model=AlertSettingsOut,
    responses=problem_responses(RegionNotFound),
)
async def get_rules(
    caller: Manager, session: ReadSession, county_code: CountyCode = None
) -> AlertSettingsOut:
    """Every rule as the county runs it: its switch, each threshold's value beside its default
    and bounds, and the day of the month the scheduled run happens. Managers of the county, of
    a region in it or above it, and admins (naming the county)."""
    return await settings.get_settings(session, caller, county_code)


@router.put(
    "/alert-rules",
    summary="Set a county's alert rules and thresholds",
    name="put_rules",
    response_model=AlertSettingsOut,
    responses=problem_responses(RegionNotFound, NotCountyLevel),
)
async def put_rules(
    body: AlertSettingsIn, caller: Manager, session: Session, county_code: CountyCode = None
) -> AlertSettingsOut:
    """Sets what the body names and leaves the rest: `run_day`, and per rule `enabled` and
    thresholds by name (null: back to the default). An unknown rule or threshold, a number out
    of its bounds, or a switch given anything but true/false answers 422 naming each. County
    managers (or managers above, or admins, naming the county); township managers may read but
    not change (403). Audited with each value's old and new."""
    return await settings.put_settings(session, caller, county_code, body)


# Monitoring lines ------------------------------------------------------------------------------


@router.get(
    "/monitoring-lines",
    summary="List monitoring income lines",
    name="list_lines",
    response_model=MonitoringLinePage,
    responses=problem_responses(RegionNotFound),
)
async def list_lines(
    caller: Staff,
    session: ReadSession,
    page: Pagination,
    region: RegionQuery = None,
    year: YearQuery = None,
) -> MonitoringLinePage:
    """Lines of your regions, of the regions above them (which apply to yours) and of those
    under them; `region` keeps those on its path (its own, above, under it)."""
    return await lines.list_lines(session, caller, region, year, page)


@router.get(
    "/monitoring-lines/effective",
    summary="The monitoring line that applies to a region",
    name="effective_line",
    response_model=EffectiveLineOut,
    responses=problem_responses(RegionNotFound),
)
async def effective_line(
    caller: Staff,
    session: ReadSession,
    region: Annotated[str, Query(pattern=CODE, description="Any region you read")],
    year: Annotated[int, Query(ge=2000, le=2100)],
) -> EffectiveLineOut:
    """The nearest line up the region's tree for the year (its own, else its township's,
    county's, city's or province's) and where it comes from; `amount: null` when none is set."""
    return await lines.get_effective(session, caller, region, year)


@router.put(
    "/monitoring-lines/{region_code}/{year}",
    summary="Set a region's monitoring line for a year",
    name="put_line",
    response_model=MonitoringLineOut,
    responses=problem_responses(RegionNotFound, RegionNotManaged),
)
async def put_line(
    region_code: RegionPath,
    year: YearPath,
    body: MonitoringLineIn,
    caller: Manager,
    session: Session,
) -> MonitoringLineOut:
    """Either `{amount}`, or `{dibao, dibao_multiple}` (the line is their product, to the
    fen), never both; with an optional `note`. Managers whose region holds it: a county
    manager sets their county's, townships' and villages' lines; a province's needs a
    province manager or an admin (a line above your region answers 403). Audited."""
    return await lines.put_line(session, caller, region_code, year, body)


@router.delete(
    "/monitoring-lines/{region_code}/{year}",
    summary="Remove a region's monitoring line for a year",
    name="delete_line",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    responses=problem_responses(RegionNotFound, RegionNotManaged, MonitoringLineNotFound),
)
async def delete_line(
    region_code: RegionPath, year: YearPath, caller: Manager, session: Session
) -> None:
    """The line above it applies again. Who may: as for setting it. Audited."""
    await lines.delete_line(session, caller, region_code, year)


# Employment targets ----------------------------------------------------------------------------


@router.get(
    "/employment-targets",
    summary="List employment targets",
    name="list_targets",
    response_model=EmploymentTargetPage,
    responses=problem_responses(RegionNotFound),
)
async def list_targets(
    caller: Staff,
    session: ReadSession,
    page: Pagination,
    region: RegionQuery = None,
    year: YearQuery = None,
) -> EmploymentTargetPage:
    """Targets of your regions, those above and under them; `region` keeps those on its
    path."""
    return await targets.list_targets(session, caller, region, year, page)


@router.put(
    "/employment-targets/{region_code}/{year}",
    summary="Set a region's employment target for a year",
    name="put_target",
    response_model=EmploymentTargetOut,
    responses=problem_responses(RegionNotFound, RegionNotManaged),
)
async def put_target(
    region_code: RegionPath,
    year: YearPath,
    body: EmploymentTargetIn,
    caller: Manager,
    session: Session,
) -> EmploymentTargetOut:
    """How many of the region's labourers should be working this year (a township's or a
    village's; a county's is accepted). Managers whose region holds it. Audited."""
    return await targets.put_target(session, caller, region_code, year, body.target)


@router.delete(
    "/employment-targets/{region_code}/{year}",
    summary="Remove a region's employment target for a year",
    name="delete_target",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    responses=problem_responses(RegionNotFound, RegionNotManaged, EmploymentTargetNotFound),
)
async def delete_target(
    region_code: RegionPath, year: YearPath, caller: Manager, session: Session
) -> None:
    """Managers whose region holds it. Audited."""
    await targets.delete_target(session, caller, region_code, year)
