from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from app.core.bodies import RequestBody
from app.core.pagination import Page
from app.notifications.models import WeChatState


class NotificationOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    event: str = Field(description="What happened, e.g. `help_request.accepted`")
    title: str
    body: str
    link: str | None = Field(description="A mini-program page to open, if any")
    fields: dict[str, str] = Field(description="The event's further values, by name")
    created_at: datetime
    read_at: datetime | None
    wechat_state: WeChatState = Field(
        description="Whether it also went out as a WeChat message: `pending`, `sending`, `sent`,"
        " `inbox_only` (no WeChat account, template or subscription), `failed`, `unknown`"
    )


class NotificationPage(Page[NotificationOut]):
    """The caller's notifications, newest first, and how many of them are unread in all."""

    unread_count: int = Field(description="Unread notifications of the caller, all pages")


class UnreadCount(BaseModel):
    unread_count: int


class SubscribeResult(StrEnum):
    """What `wx.requestSubscribeMessage` answered for one template."""

    accept = "accept"
    reject = "reject"
    ban = "ban"
    filter = "filter"


class SubscriptionResultIn(RequestBody):
    template_id: str = Field(
        min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$", description="A template id"
    )
    result: SubscribeResult


class SubscriptionReport(RequestBody):
    """The answer of `wx.requestSubscribeMessage`, one entry per template asked for."""

    results: list[SubscriptionResultIn] = Field(min_length=1, max_length=20)


class SubscriptionOut(BaseModel):
    template_id: str
    events: list[str] = Field(description="The events this template carries")
    remaining: int = Field(description="Messages WeChat will still accept for the caller")


class SubscriptionPage(Page[SubscriptionOut]):
    """Every configured template, with the caller's subscriptions left."""
