"""A county's registry settings (`registry_setting`): the cap on full ID-number reveals per
manager. Who may read and change a county's settings is `app.regions.county_settings`."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.caller import Principal
from app.households.models import RegistrySetting
from app.households.schemas import RegistrySettingOut
from app.regions.county_settings import county_of, set_county_value, settings_county


async def reveal_limit(session: AsyncSession, principal: Principal, default: int) -> int:
    """The reveals an hour `principal` may make: their county's cap, or `default` (an admin,
    a manager above county level, a county that set none). A manager of several counties gets
    the strictest."""
    counties = {c for c in map(county_of, principal.region_codes) if c is not None}
    if not counties:
        return default
    caps = (
        await session.scalars(
            select(RegistrySetting.id_reveal_max).where(RegistrySetting.county_code.in_(counties))
        )
    ).all()
    return min([*caps, default]) if len(caps) < len(counties) else min(caps)


def _out(county_code: str, setting: RegistrySetting | None, default: int) -> RegistrySettingOut:
    return RegistrySettingOut(
        county_code=county_code,
        id_reveal_max=setting.id_reveal_max if setting else default,
        updated_by=setting.updated_by if setting else None,
        updated_at=setting.updated_at if setting else None,
    )


async def get_setting(
    session: AsyncSession, principal: Principal, county_code: str | None, default: int
) -> RegistrySettingOut:
    county = await settings_county(session, principal, county_code, changing=False)
    return _out(county, await session.get(RegistrySetting, county), default)


async def put_setting(
    session: AsyncSession,
    principal: Principal,
    county_code: str | None,
    id_reveal_max: int,
    default: int,
) -> RegistrySettingOut:
    """Sets the county's cap, audited; the same cap again writes nothing."""
    county = await settings_county(session, principal, county_code, changing=True)
    row = await set_county_value(
        session, principal, RegistrySetting, county, "id_reveal_max", id_reveal_max
    )
    return _out(county, row, default)
