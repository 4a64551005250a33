"""A county's precedence rule (`feed_setting`): reading and setting it. Who may read and
change a county's settings is `app.regions.county_settings`; what the rule means is
`app.policy.reconciliation`."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.caller import Principal
from app.feed.conflict_schemas import FeedSettingOut
from app.feed.models import FeedSetting
from app.feed.values import Precedence
from app.policy.reconciliation import DEFAULT_PRECEDENCE
from app.regions import county_settings
from app.regions.county_settings import set_county_value, settings_county


def setting_entity_id(county_code: str) -> uuid.UUID:
    return county_settings.setting_entity_id(FeedSetting.__tablename__, county_code)


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
    county = await settings_county(session, principal, county_code, changing=False)
    return _out(county, await session.get(FeedSetting, county))


async def put_setting(
    session: AsyncSession, principal: Principal, county_code: str | None, precedence: Precedence
) -> FeedSettingOut:
    """Sets the county's rule, audited; the same rule again writes nothing."""
    county = await settings_county(session, principal, county_code, changing=True)
    row = await set_county_value(session, principal, FeedSetting, county, "precedence", precedence)
    return _out(county, row)
