"""Who hears of a request's steps, and the notifications themselves (written to the outbox in
the transaction of the step)."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.models import UserAccount, UserRegion
from app.core.caller import Role
from app.core.scope import RegionLevel, level_of
from app.help_requests.models import HelpRequest
from app.notifications.outbox import notify


def handling_role(region_code: str) -> Role:
    """Who handles what is routed to a region: a village's coordinators, else its managers."""
    return Role.coordinator if level_of(region_code) is RegionLevel.village else Role.manager


async def staff_of(
    session: AsyncSession, regions: Iterable[tuple[str, Role]]
) -> dict[tuple[str, Role], list[uuid.UUID]]:
    """The active accounts of each (region, role): those whose regions name it exactly."""
    wanted = set(regions)
    found: dict[tuple[str, Role], list[uuid.UUID]] = {key: [] for key in wanted}
    if not wanted:
        return found
    rows = await session.execute(
        select(UserRegion.region_code, UserAccount.role, UserAccount.id)
        .join(UserAccount, UserAccount.id == UserRegion.user_id)
        .where(
            UserRegion.region_code.in_({code for code, _ in wanted}),
            UserAccount.role.in_({role.value for _, role in wanted}),
            UserAccount.is_active.is_(True),
        )
        .order_by(UserAccount.id)
    )
    for code, role, user_id in rows.all():
        if (code, Role(role)) in found:
            found[(code, Role(role))].append(user_id)
    return found


async def handlers(session: AsyncSession, region_code: str) -> list[uuid.UUID]:
    """Who handles a request routed to `region_code`."""
    key = (region_code, handling_role(region_code))
    return (await staff_of(session, [key]))[key]


async def villagers_of(session: AsyncSession, member_id: uuid.UUID) -> list[uuid.UUID]:
    """The active accounts bound to the member who asked."""
    return list(
        (
            await session.scalars(
                select(UserAccount.id).where(
                    UserAccount.member_id == member_id,
                    UserAccount.role == Role.villager,
                    UserAccount.is_active.is_(True),
                )
            )
        ).all()
    )


def link(request_id: uuid.UUID) -> str:
    return f"/help-requests/{request_id}"


async def tell(
    session: AsyncSession,
    request: HelpRequest,
    recipients: Sequence[uuid.UUID],
    *,
    event: str,
    title: str,
    body: str,
) -> None:
    if not recipients:
        return
    await notify(
        session,
        recipients=list(dict.fromkeys(recipients)),
        event=event,
        title=title,
        body=body,
        link=link(request.id),
        fields={"category": request.category, "status": request.status},
    )
