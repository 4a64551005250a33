from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Depends, Request

from app.core.auth import CurrentUser
from app.core.deps import Pagination, ReadSession, Session
from app.core.errors import problem_responses
from app.core.routing import api_router
from app.notifications import service
from app.notifications.errors import NotificationNotFound
from app.notifications.schemas import (
    NotificationOut,
    NotificationPage,
    SubscriptionPage,
    SubscriptionReport,
    UnreadCount,
)
from app.notifications.templates import Templates, load_templates

router = api_router("/me", tags=["notifications"])


def configured_templates(request: Request) -> Templates:
    return load_templates(request.app.state.settings)


ConfiguredTemplates = Annotated[Templates, Depends(configured_templates)]


@router.get(
    "/notifications", summary="My notifications", name="list", response_model=NotificationPage
)
async def list_notifications(
    caller: CurrentUser, session: ReadSession, page: Pagination, unread: bool = False
) -> NotificationPage:
    """The caller's inbox, newest first (`unread=true`: only those not read yet), and
    `unread_count`, the caller's unread notifications over all pages (`limit=1` for a badge).
    Every notification is here, whether or not it also went out over WeChat."""
    return await service.list_inbox(session, caller, page, unread_only=unread)


@router.post(
    "/notifications/{notification_id}/read",
    summary="Mark a notification read",
    name="read",
    response_model=NotificationOut,
    responses=problem_responses(NotificationNotFound),
)
async def read_notification(
    notification_id: uuid.UUID, caller: CurrentUser, session: Session
) -> NotificationOut:
    """Marks one of the caller's notifications read (again: no change, the first time kept).
    Anyone else's answers 404 `notification_not_found`."""
    return await service.mark_read(session, caller, notification_id)


@router.post(
    "/notifications/read",
    summary="Mark all my notifications read",
    name="read-all",
    response_model=UnreadCount,
)
async def read_all_notifications(caller: CurrentUser, session: Session) -> UnreadCount:
    """Marks every unread notification of the caller read; answers the unread count (0)."""
    await service.mark_all_read(session, caller)
    return UnreadCount(unread_count=0)


@router.get(
    "/notification-subscriptions",
    summary="My WeChat subscriptions",
    name="subscriptions",
    response_model=SubscriptionPage,
)
async def list_subscriptions(
    caller: CurrentUser, session: ReadSession, templates: ConfiguredTemplates
) -> SubscriptionPage:
    """Every WeChat template the service sends, the events it carries, and how many messages
    of it the caller still allows: the mini-program asks (`wx.requestSubscribeMessage`) for
    those at 0. One page."""
    items = await service.subscriptions(session, caller, templates)
    return SubscriptionPage(items=items, next_cursor=None)


@router.post(
    "/notification-subscriptions",
    summary="Report WeChat subscriptions",
    name="report-subscriptions",
    response_model=SubscriptionPage,
)
async def report_subscriptions(
    body: SubscriptionReport, caller: CurrentUser, session: Session, templates: ConfiguredTemplates
) -> SubscriptionPage:
    """What `wx.requestSubscribeMessage` answered, one entry per template: each `accept`
    allows one more WeChat message of that template (WeChat's one-time subscription); the
    others change nothing. Templates the service does not send are ignored. Answers the
    caller's subscriptions, as the list does. Not idempotent: send each answer once."""
    items = await service.report_subscriptions(session, caller, templates, body.results)
    return SubscriptionPage(items=items, next_cursor=None)
