"""Values a county sets for itself (the feed's precedence rule, the time allowed for a first
answer to a help request, and those to come): whose county a caller means, and writing a value,
audited. Each kind of setting keeps its own table keyed by `county_code`; the rules of who may
read and change it live here, once.

Whose county: a manager's own (the county their region lies in) unless they name one; an
admin, or a province or city manager, names it (`county_code`). A manager of the county, of a
region inside it or above it may read it; only those whose scope holds the whole county (a
county manager, a province or city manager above it, an admin) may change it: a township
manager reads it and is refused (403) the change.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit import service as audit
from app.core.caller import Principal, Role
from app.core.errors import ValidationFailed
from app.core.scope import LEVEL_DIGITS, RegionLevel, level_of
from app.regions.errors import NotCountyLevel, RegionNotFound
from app.regions.models import Region

# The audit log names each entity by a UUID; a setting is keyed by its county's code, so its
# entity id is derived from the table and the code (one id for every change of one setting).
_SETTING_NAMESPACE = uuid.UUID("6f0f3c52-4b8e-4b9a-9a49-0c8f3e7d2a11")
_COUNTY_DIGITS = LEVEL_DIGITS[RegionLevel.county]
_COUNTY_OR_BELOW = frozenset({RegionLevel.county, RegionLevel.township, RegionLevel.village})


def county_of(code: str) -> str | None:
    """The county a region lies in (itself for a county); None above county level."""
    if level_of(code) not in _COUNTY_OR_BELOW:
        return None
    return code[:_COUNTY_DIGITS].ljust(12, "0")


def setting_entity_id(table: str, county_code: str) -> uuid.UUID:
    return uuid.uuid5(_SETTING_NAMESPACE, f"{table}:{county_code}")


def _invalid(message: str) -> ValidationFailed:
    return ValidationFailed(message, errors=[{"field": "query.county_code", "message": message}])


async def settings_county(
    session: AsyncSession, principal: Principal, county_code: str | None, *, changing: bool
) -> str:
    """The county whose setting `principal` reads (or, `changing`, sets)."""
    own = {c for c in map(county_of, principal.region_codes) if c is not None}
    if principal.role is not Role.manager:  # admins: everything, their own county none
        own = set()
    if county_code is None:
        if len(own) != 1:
            raise _invalid("请指明县级区划代码（county_code）")
        (county_code,) = own
    elif level_of(county_code) is not RegionLevel.county:
        raise _invalid("county_code 须为县级区划代码")
    known = await session.scalar(select(Region.code).where(Region.code == county_code))
    if known is None or not (principal.scope.covers(county_code) or county_code in own):
        raise RegionNotFound()
    if changing and not principal.scope.covers(county_code):
        raise NotCountyLevel()
    return county_code


async def set_county_value(
    session: AsyncSession,
    principal: Principal,
    model: Any,
    county_code: str,
    field: str,
    value: object,
) -> Any:
    """Sets `model.<field>` for the county (a row of `model`, keyed by `county_code`, with
    `updated_by` and `updated_at`), audited; the same value again writes nothing. Answers
    the row as it stands."""
    current = await session.get(model, county_code, with_for_update=True)
    old = getattr(current, field) if current is not None else None
    if current is not None and old == value:
        return current
    author = None if principal.is_system else principal.id
    await session.execute(
        insert(model)
        .values(county_code=county_code, updated_by=author, **{field: value})
        .on_conflict_do_update(
            index_elements=[model.county_code],
            set_={field: value, "updated_by": author, "updated_at": func.now()},
        )
    )
    table = model.__tablename__
    audit.record(
        session,
        principal.actor,
        action="create" if current is None else "update",
        entity=table,
        entity_id=setting_entity_id(table, county_code),
        region_code=county_code,
        changes={field: (old, value)},
    )
    await session.flush()
    return await session.get(model, county_code, populate_existing=True)
