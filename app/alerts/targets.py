"""Employment targets (务工目标) by region and year: how many labourers of a township or a
village (or a county) should be working; the month's pace is `target × month ÷ 12`
(`region_behind_target`, `app.policy.alerts`)."""

from __future__ import annotations

from sqlalchemy import delete, func
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from app.alerts.settings_errors import EmploymentTargetNotFound
from app.alerts.settings_models import EmploymentTarget
from app.alerts.settings_schemas import EmploymentTargetOut, EmploymentTargetPage
from app.alerts.settings_scope import (
    COUNTY_OR_BELOW,
    entity_id,
    region_names,
    region_to_manage,
    yearly_rows,
)
from app.audit import service as audit
from app.core.caller import Principal
from app.core.errors import ValidationFailed
from app.core.pagination import PageRequest
from app.core.scope import level_of

TABLE = EmploymentTarget.__tablename__


async def _out(session: AsyncSession, rows: list[EmploymentTarget]) -> list[EmploymentTargetOut]:
    names = await region_names(session, {row.region_code for row in rows})
    return [
        EmploymentTargetOut(
            region_code=row.region_code,
            region_name=names[row.region_code][0],
            level=names[row.region_code][1],
            year=row.year,
            target=row.target,
            updated_by=row.updated_by,
            updated_at=row.updated_at,
        )
        for row in rows
    ]


async def list_targets(
    session: AsyncSession,
    principal: Principal,
    region_code: str | None,
    year: int | None,
    page: PageRequest,
) -> EmploymentTargetPage:
    """The targets the caller reads (their regions', those above and under them); with
    `region_code`, those on its path; with `year`, that year's."""
    rows, cursor = await yearly_rows(session, principal, EmploymentTarget, region_code, year, page)
    return EmploymentTargetPage(items=await _out(session, rows), next_cursor=cursor)


async def put_target(
    session: AsyncSession, principal: Principal, region_code: str, year: int, target: int
) -> EmploymentTargetOut:
    """Sets the region's target for the year, audited; the same target again writes nothing."""
    await region_to_manage(session, principal, region_code)
    if level_of(region_code) not in COUNTY_OR_BELOW:
        message = "务工目标只能设在县、乡镇或村"
        raise ValidationFailed(message, errors=[{"field": "path.region_code", "message": message}])
    current = await session.get(EmploymentTarget, (region_code, year), with_for_update=True)
    if current is None or current.target != target:
        author = None if principal.is_system else principal.id
        await session.execute(
            insert(EmploymentTarget)
            .values(region_code=region_code, year=year, target=target, updated_by=author)
            .on_conflict_do_update(
                index_elements=[EmploymentTarget.region_code, EmploymentTarget.year],
                set_={"target": target, "updated_by": author, "updated_at": func.now()},
            )
        )
        audit.record(
            session,
            principal.actor,
            action="create" if current is None else "update",
            entity=TABLE,
            entity_id=entity_id(TABLE, region_code, year),
            region_code=region_code,
            changes={"target": (current.target if current else None, target)},
        )
        await session.flush()
    row = await session.get(EmploymentTarget, (region_code, year), populate_existing=True)
    assert row is not None
    [out] = await _out(session, [row])
    return out


async def delete_target(
    session: AsyncSession, principal: Principal, region_code: str, year: int
) -> None:
    """Removes the region's target for the year, audited."""
    await region_to_manage(session, principal, region_code)
    current = await session.get(EmploymentTarget, (region_code, year), with_for_update=True)
    if current is None:
        raise EmploymentTargetNotFound()
    await session.execute(
        delete(EmploymentTarget).where(
            EmploymentTarget.region_code == region_code, EmploymentTarget.year == year
        )
    )
    audit.record(
        session,
        principal.actor,
        action="delete",
        entity=TABLE,
        entity_id=entity_id(TABLE, region_code, year),
        region_code=region_code,
        changes={"target": (current.target, None)},
    )
    await session.flush()
