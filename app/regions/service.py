"""Reading the region tree within a caller's scope."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.pagination import PageRequest, next_cursor
from app.core.scope import Scope, ScopeKind, apply_scope, is_region_code, parent_of
from app.regions.errors import RegionNotFound
from app.regions.models import Region
from app.regions.schemas import RegionDetail, RegionOut, RegionRef


async def get_region(session: AsyncSession, scope: Scope, code: str) -> RegionDetail:
    if not is_region_code(code):
        raise RegionNotFound(f"区划代码 {code} 不存在")
    region = await session.scalar(
        apply_scope(select(Region).where(Region.code == code), Region.code, scope)
    )
    if region is None:
        raise RegionNotFound(f"区划代码 {code} 不存在")
    ancestors: list[str] = []
    parent = parent_of(code)
    while parent is not None:
        ancestors.append(parent)
        parent = parent_of(parent)
    # Ancestors are shown as breadcrumbs even above the caller's scope: names only.
    path = (
        await session.scalars(
            select(Region).where(Region.code.in_(ancestors)).order_by(Region.code)
        )
    ).all()
    children = await session.scalar(
        select(func.count()).select_from(Region).where(Region.parent_code == code)
    )
    return RegionDetail(
        **RegionOut.model_validate(region).model_dump(),
        path=[RegionRef.model_validate(r) for r in path],
        children_count=children or 0,
    )


async def list_regions(
    session: AsyncSession, scope: Scope, parent: str | None, page: PageRequest
) -> tuple[list[Region], str | None]:
    """Children of `parent`, or without one the caller's top regions (the roots for admins)."""
    statement = select(Region).order_by(Region.code).limit(page.limit + 1)
    if parent is not None:
        await get_region(session, scope, parent)  # 404 when the parent is outside scope
        statement = statement.where(Region.parent_code == parent)
    elif scope.kind is ScopeKind.everything:
        statement = statement.where(Region.parent_code.is_(None))
    else:
        statement = statement.where(Region.code.in_(scope.region_codes))
    statement = apply_scope(statement, Region.code, scope)
    if page.after:
        statement = statement.where(Region.code > str(page.after[0]))
    rows = list((await session.scalars(statement)).all())
    return next_cursor(rows, page.limit, lambda region: [region.code])
