"""A county's help-request settings (`help_request_setting`): reading and setting them. Who
may read and change a county's settings is `app.regions.county_settings`."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.caller import Principal
from app.help_requests.models import HelpRequestSetting
from app.help_requests.schemas import HelpRequestSettingOut
from app.policy.help_requests import DEFAULT_FIRST_RESPONSE_HOURS
from app.regions import county_settings
from app.regions.county_settings import county_of, set_county_value, settings_county


def setting_entity_id(county_code: str) -> uuid.UUID:
    return county_settings.setting_entity_id(HelpRequestSetting.__tablename__, county_code)


async def first_response_hours(session: AsyncSession, village_code: str) -> int | None:
    """The hours the village's county allows for a first response; None: the default."""
    county = county_of(village_code)
    return await session.scalar(
        select(HelpRequestSetting.first_response_hours).where(
            HelpRequestSetting.county_code == county
        )
    )


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
    county = await settings_county(session, principal, county_code, changing=False)
    return _out(county, await session.get(HelpRequestSetting, county))


async def put_setting(
    session: AsyncSession, principal: Principal, county_code: str | None, hours: int
) -> HelpRequestSettingOut:
    """Sets the county's first-response time, audited; the same time again writes nothing.
    Deadlines already running keep the time they started with."""
    county = await settings_county(session, principal, county_code, changing=True)
    row = await set_county_value(
        session, principal, HelpRequestSetting, county, "first_response_hours", hours
    )
    return _out(county, row)
