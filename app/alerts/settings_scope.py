"""Who reads and who sets values kept by region and year (monitoring lines, employment
targets).

Reading: staff read the values of every region in their scope and of the regions above it
(the province's and county's lines apply to a coordinator's villages too). Setting: a manager
(or an admin) whose scope holds the region: a county manager sets their county's, townships'
and villages' values; a province's needs a province manager or an admin. A region the caller
reads but does not hold answers 403 on a write; a region they cannot read answers 404, as an
unknown one does.
"""

from __future__ import annotations

import uuid
from typing import TypeVar

from sqlalchemy import ColumnElement, or_, select, true
from sqlalchemy.ext.asyncio import AsyncSession

from app.alerts.settings_errors import RegionNotManaged
from app.alerts.settings_models import EmploymentTarget, MonitoringLine
from app.core.caller import Principal
from app.core.pagination import PageRequest, keyset, keyset_key, next_cursor
from app.core.scope import LEVEL_DIGITS, RegionLevel, ScopeKind, code_range, contains, level_of
from app.regions import county_settings
from app.regions.errors import RegionNotFound
from app.regions.models import Region

YearlyRow = TypeVar("YearlyRow", MonitoringLine, EmploymentTarget)


def ancestors_and_self(code: str) -> list[str]:
    """The codes of `code`'s province, city, county, township and village, down to its own
    level, outermost first."""
    depth = LEVEL_DIGITS[level_of(code)]
    return [code[:d].ljust(12, "0") for d in LEVEL_DIGITS.values() if d <= depth]


def entity_id(table: str, region_code: str, year: int) -> uuid.UUID:
    """The audit log's id of one region's value for one year (every change of it)."""
    return county_settings.setting_entity_id(table, f"{region_code}:{year}")


def can_read(principal: Principal, code: str) -> bool:
    if principal.scope.covers(code):
        return True
    return any(contains(code, own) for own in principal.region_codes)


def readable(principal: Principal, column: ColumnElement[str]) -> ColumnElement[bool]:
    """A SQL predicate: the region code in `column` is one `principal` reads values of."""
    scope = principal.scope
    if scope.kind is ScopeKind.everything:
        return true()
    above = {code for own in principal.region_codes for code in ancestors_and_self(own)}
    return or_(column.in_(sorted(above)), scope.region_filter(column))


def on_path_of(region_code: str, column: ColumnElement[str]) -> ColumnElement[bool]:
    """A SQL predicate: `column` is `region_code`, a region above it or one under it."""
    low, high = code_range(region_code)
    return or_(column.in_(ancestors_and_self(region_code)), column.between(low, high))


async def region_to_read(session: AsyncSession, principal: Principal, code: str) -> Region:
    region = await session.get(Region, code)
    if region is None or not can_read(principal, code):
        raise RegionNotFound()
    return region


async def region_to_manage(session: AsyncSession, principal: Principal, code: str) -> Region:
    region = await region_to_read(session, principal, code)
    if not principal.scope.covers(code):
        raise RegionNotManaged()
    return region


COUNTY_OR_BELOW = frozenset({RegionLevel.county, RegionLevel.township, RegionLevel.village})


async def region_names(session: AsyncSession, codes: set[str]) -> dict[str, tuple[str, str]]:
    """Name and level of each region in `codes`."""
    if not codes:
        return {}
    rows = await session.execute(
        select(Region.code, Region.name, Region.level).where(Region.code.in_(sorted(codes)))
    )
    return {code: (name, level) for code, name, level in rows.all()}


async def yearly_rows(
    session: AsyncSession,
    principal: Principal,
    model: type[YearlyRow],
    region_code: str | None,
    year: int | None,
    page: PageRequest,
) -> tuple[list[YearlyRow], str | None]:
    """One page of a table set per region and year (lines, targets) as the caller reads it:
    their regions', those above and under them; with `region_code`, those on its path (its
    own, above it, under it); with `year`, that year's. Ordered by region, then year."""
    statement = select(model).where(readable(principal, model.region_code))
    if region_code is not None:
        await region_to_read(session, principal, region_code)
        statement = statement.where(on_path_of(region_code, model.region_code))
    if year is not None:
        statement = statement.where(model.year == year)
    statement = keyset(
        statement, [model.region_code, model.year], [str, int], page, descending=False
    )
    rows = list((await session.scalars(statement)).all())
    return next_cursor(rows, page.limit, lambda r: keyset_key(r.region_code, r.year))
