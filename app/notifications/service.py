"""The in-app inbox and the WeChat subscriptions the mini-program reports.

Every query is the caller's own (`recipient_id` / `user_id` is the caller): another person's
notification answers 404, as if it did not exist.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.caller import Principal
from app.core.pagination import PageRequest, newest_first, newest_first_key, next_cursor
from app.notifications.errors import NotificationNotFound
from app.notifications.models import Notification, NotificationSubscription
from app.notifications.schemas import (
    NotificationOut,
    NotificationPage,
    SubscribeResult,
    SubscriptionOut,
    SubscriptionResultIn,
)
from app.notifications.templates import Templates

# Subscriptions kept per user and template at most: more than anyone will be sent.
MAX_REMAINING = 1000


async def unread_count(session: AsyncSession, caller: Principal) -> int:
    count = await session.scalar(
        select(func.count())
        .select_from(Notification)
        .where(Notification.recipient_id == caller.user.id, Notification.read_at.is_(None))
    )
    return int(count or 0)


async def list_inbox(
    session: AsyncSession, caller: Principal, page: PageRequest, *, unread_only: bool = False
) -> NotificationPage:
    statement = select(Notification).where(Notification.recipient_id == caller.user.id)
    if unread_only:
        statement = statement.where(Notification.read_at.is_(None))
    statement = newest_first(statement, Notification.created_at, Notification.id, page)
    rows = list((await session.scalars(statement)).all())
    items, cursor = next_cursor(rows, page.limit, lambda n: newest_first_key(n.created_at, n.id))
    return NotificationPage(
        items=[NotificationOut.model_validate(n) for n in items],
        next_cursor=cursor,
        unread_count=await unread_count(session, caller),
    )


async def mark_read(
    session: AsyncSession, caller: Principal, notification_id: uuid.UUID
) -> NotificationOut:
    """Marks one of the caller's notifications read; reading it again changes nothing."""
    row = await session.scalar(
        update(Notification)
        .where(Notification.id == notification_id, Notification.recipient_id == caller.user.id)
        .values(read_at=func.coalesce(Notification.read_at, func.now()))
        .returning(Notification)
        .execution_options(synchronize_session=False)
    )
    if row is None:
        raise NotificationNotFound()
    return NotificationOut.model_validate(row)


async def mark_all_read(session: AsyncSession, caller: Principal) -> int:
    """Marks every unread notification of the caller read; answers how many were."""
    result = await session.execute(
        update(Notification)
        .where(Notification.recipient_id == caller.user.id, Notification.read_at.is_(None))
        .values(read_at=func.now())
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


async def report_subscriptions(
    session: AsyncSession,
    caller: Principal,
    templates: Templates,
    results: Sequence[SubscriptionResultIn],
) -> list[SubscriptionOut]:
    """Each `accept` allows one more message of its template (WeChat's one-time subscription).
    Templates this service does not use are ignored: the mini-program may ask for others."""
    accepted: dict[str, int] = {}
    for item in results:
        if item.result is SubscribeResult.accept and item.template_id in templates.events_of:
            accepted[item.template_id] = accepted.get(item.template_id, 0) + 1
    if accepted:
        table = NotificationSubscription.__table__
        statement = insert(table).values(
            [
                {"user_id": caller.user.id, "template_id": template_id, "remaining": count}
                for template_id, count in sorted(accepted.items())
            ]
        )
        await session.execute(
            statement.on_conflict_do_update(
                index_elements=[table.c.user_id, table.c.template_id],
                set_={
                    "remaining": func.least(
                        table.c.remaining + statement.excluded.remaining, MAX_REMAINING
                    ),
                    "updated_at": func.now(),
                },
            )
        )
    return await subscriptions(session, caller, templates)


async def subscriptions(
    session: AsyncSession, caller: Principal, templates: Templates
) -> list[SubscriptionOut]:
    rows = await session.execute(
        select(NotificationSubscription.template_id, NotificationSubscription.remaining).where(
            NotificationSubscription.user_id == caller.user.id
        )
    )
    remaining = {row.template_id: row.remaining for row in rows}
    return [
        SubscriptionOut(
            template_id=template_id,
            events=sorted(templates.events_of[template_id]),
            remaining=remaining.get(template_id, 0),
        )
        for template_id in templates.template_ids
    ]
