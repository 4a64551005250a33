"""A county's precedence rule (`feed_setting`): reading and setting it.

Whose county: a manager's own (the county their region lies in) unless they name one; an
admin, or a province or city manager, names it (`county_code`). Anyone who may read a
county's setting is a manager of it or of a region inside it, or above it; only those whose
scope holds the whole county (a county manager, a province or city manager above it, an
admin) may change it: a township manager reads it and is refused (403) the change.
What the rule means is `app.policy.reconciliation`.
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
from app.feed.conflict_schemas import FeedSettingOut
from app.feed.errors import NotCountyLevel
from app.feed.models import FeedSetting
from app.feed.values import Precedence
from app.policy.reconciliation import DEFAULT_PRECEDENCE
from app.regions.errors import RegionNotFound
from app.regions.models import Region

# The audit log names each entity by a UUID; a county's setting is keyed by the county's code,
# so its entity id is derived from the code (the same id for every change of one county).
_SETTING_NAMESPACE = uuid.UUID("6f0f3c52-4b8e-4b9a-9a49-0c8f3e7d2a11")
_COUNTY_DIGITS = LEVEL_DIGITS[RegionLevel.county]
_BELOW_COUNTY = frozenset({RegionLevel.county, RegionLevel.township, RegionLevel.village})


def setting_entity_id(county_code: str) -> uuid.UUID:
    return uuid.uuid5(_SETTING_NAMESPACE, f"feed_setting:{county_code}")


def county_of(code: str) -> str | None:
    """The county a region lies in (itself for a county); None above county level."""
    if level_of(code) not in _BELOW_COUNTY:
        return None
    return code[:_COUNTY_DIGITS].ljust(12, "0")


def _invalid(message: str) -> ValidationFailed:
    return ValidationFailed(message, errors=[{"field": "query.county_code", "message": message}])


async def _county(
    session: AsyncSession, principal: Principal, county_code: str | None, *, changing: bool
) -> str:
    own = [c for c in map(county_of, principal.region_codes) if c is not None]
    if principal.role is not Role.manager:  # admins: everything, their own county none
        own = []
    if county_code is None:
        if len(own) != 1:
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


def _out(county_code: str, setting: FeedSetting | None) -> FeedSettingOut:
    if setting is None:
        return FeedSettingOut(
            county_code=county_code,
            precedence=DEFAULT_PRECEDENCE,
            updated_by=None,
            updated_at=None,
        )
    return FeedSettingOut(
        county_code=county_code,
        precedence=Precedence(setting.precedence),
        updated_by=setting.updated_by,
        updated_at=setting.updated_at,
    )


async def county_precedence(session: AsyncSession, county_code: str) -> Precedence:
    """The county's rule, or the default when it has set none."""
    value = await session.scalar(
        select(FeedSetting.precedence).where(FeedSetting.county_code == county_code)
    )
    return Precedence(value) if value is not None else DEFAULT_PRECEDENCE


async def get_setting(
    session: AsyncSession, principal: Principal, county_code: str | None
) -> FeedSettingOut:
    county = await _county(session, principal, county_code, changing=False)
    return _out(county, await session.get(FeedSetting, county))


async def put_setting(
    session: AsyncSession, principal: Principal, county_code: str | None, precedence: Precedence
) -> FeedSettingOut:
    """Sets the county's rule, audited; the same rule again writes nothing."""
    county = await _county(session, principal, county_code, changing=True)
    current = await session.get(FeedSetting, county, with_for_update=True)
    old = Precedence(current.precedence) if current is not None else None
    if old is precedence:
        return _out(county, current)
    author = None if principal.is_system else principal.id
    await session.execute(
        insert(FeedSetting)
        .values(county_code=county, precedence=precedence, updated_by=author)
        .on_conflict_do_update(
            index_elements=[FeedSetting.county_code],
            set_={"precedence": precedence, "updated_by": author, "updated_at": func.now()},
        )
    )
    audit.record(
        session,
        principal.actor,
        action="create" if current is None else "update",
        entity="feed_setting",
        entity_id=setting_entity_id(county),
        region_code=county,
        changes={"precedence": (old, precedence)},
    )
    await session.flush()
    return _out(county, await session.get(FeedSetting, county, populate_existing=True))
