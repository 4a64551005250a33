"""A county's help-request settings (`help_request_setting`): reading and setting them.

Whose county: a manager's own (the county their region lies in) unless they name one; an
admin, or a province or city manager, names it (`county_code`). A manager of the county or of
a region inside it may read it; only those whose scope holds the whole county (a county
manager, a province or city manager above it, an admin) may change it.
"""

from __future__ import annotations

import uuid

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit import service as audit
from app.core.caller import Principal, Role
from app.core.errors import ValidationFailed
from app.core.scope import LEVEL_DIGITS, RegionLevel, level_of
from app.help_requests.errors import NotCountyLevel
from app.help_requests.models import HelpRequestSetting
from app.help_requests.schemas import HelpRequestSettingOut
from app.policy.help_requests import DEFAULT_FIRST_RESPONSE_HOURS
from app.regions.errors import RegionNotFound
from app.regions.models import Region

# The audit log names each entity by a UUID; a county's setting is keyed by its code.
_SETTING_NAMESPACE = uuid.UUID("3d7c55a0-6a43-4f4b-8d0e-5b2f1c9e7a64")
_COUNTY_DIGITS = LEVEL_DIGITS[RegionLevel.county]
_COUNTY_OR_BELOW = frozenset({RegionLevel.county, RegionLevel.township, RegionLevel.village})


def setting_entity_id(county_code: str) -> uuid.UUID:
    return uuid.uuid5(_SETTING_NAMESPACE, f"help_request_setting:{county_code}")


def county_of(code: str) -> str | None:
    """The county a region lies in (itself for a county); None above county level."""
    if level_of(code) not in _COUNTY_OR_BELOW:
        return None
    return code[:_COUNTY_DIGITS].ljust(12, "0")


async def first_response_hours(session: AsyncSession, village_code: str) -> int | None:
    """The hours the village's county allows for a first response; None: the default."""
    county = county_of(village_code)
    return await session.scalar(
        select(HelpRequestSetting.first_response_hours).where(
            HelpRequestSetting.county_code == county
        )
    )


def _invalid(message: str) -> ValidationFailed:
    return ValidationFailed(message, errors=[{"field": "query.county_code", "message": message}])


async def _county(
    session: AsyncSession, principal: Principal, county_code: str | None, *, changing: bool
) -> str:
    own = [c for c in map(county_of, principal.region_codes) if c is not None]
    if principal.role is not Role.manager:
        own = []
    if county_code is None:
        if len(set(own)) != 1:
            raise _invalid("请指明县级区划代码（county_code）")
        county_code = own[0]
    elif level_of(county_code) is not RegionLevel.county:
        raise _invalid("county_code 须为县级区划代码")
    known = await session.scalar(select(Region.code).where(Region.code == county_code))
    if known is None or not (principal.scope.covers(county_code) or county_code in own):
        raise RegionNotFound()
    if changing and not principal.scope.covers(county_code):
        raise NotCountyLevel()
    return county_code


def _out(county_code: str, setting: HelpRequestSetting | None) -> HelpRequestSettingOut:
    if setting is None:
        return HelpRequestSettingOut(
            county_code=county_code,
            first_response_hours=DEFAULT_FIRST_RESPONSE_HOURS,
            updated_by=None,
            updated_at=None,
        )
    return HelpRequestSettingOut(
        county_code=county_code,
        first_response_hours=setting.first_response_hours,
        updated_by=setting.updated_by,
        updated_at=setting.updated_at,
    )


async def get_setting(
    session: AsyncSession, principal: Principal, county_code: str | None
) -> HelpRequestSettingOut:
    county = await _county(session, principal, county_code, changing=False)
    return _out(county, await session.get(HelpRequestSetting, county))


async def put_setting(
    session: AsyncSession, principal: Principal, county_code: str | None, hours: int
) -> HelpRequestSettingOut:
    """Sets the county's first-response time, audited; the same time again writes nothing.
    Deadlines already running keep the time they started with."""
    county = await _county(session, principal, county_code, changing=True)
    current = await session.get(HelpRequestSetting, county, with_for_update=True)
    old = current.first_response_hours if current is not None else None
    if old == hours:
        return _out(county, current)
    author = None if principal.is_system else principal.id
    await session.execute(
        insert(HelpRequestSetting)
        .values(county_code=county, first_response_hours=hours, updated_by=author)
        .on_conflict_do_update(
            index_elements=[HelpRequestSetting.county_code],
            set_={"first_response_hours": hours, "updated_by": author, "updated_at": func.now()},
        )
    )
    audit.record(
        session,
        principal.actor,
        action="create" if current is None else "update",
        entity="help_request_setting",
        entity_id=setting_entity_id(county),
        region_code=county,
        changes={"first_response_hours": (old, hours)},
    )
    await session.flush()
    return _out(county, await session.get(HelpRequestSetting, county, populate_existing=True))
