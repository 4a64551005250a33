from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from app.core.bodies import RequestBody
from app.core.pagination import Page
from app.core.types import MultilineText, Text
from app.help_requests.models import DeadlineKind, EventKind, HelpStatus
from app.policy.help_requests import MAX_FIRST_RESPONSE_HOURS, MIN_FIRST_RESPONSE_HOURS
from app.policy.values import ContactMethod, HelpCategory


class ContactIn(RequestBody):
    method: ContactMethod = Field(description="phone / wechat / visit (come to the house)")
    note: Text = Field(default="", max_length=200, description="When or how, e.g. 下午三点后打电话")


class HelpRequestIn(RequestBody):
    id: uuid.UUID = Field(description="Chosen by the phone; resending it is safe.")
    member_id: uuid.UUID | None = Field(
        default=None,
        description="Staff filing on a villager's behalf name the member (required of them); "
        "a villager files for themselves and may leave it out.",
    )
    category: HelpCategory
    description: MultilineText = Field(min_length=1, max_length=2000)
    contact: ContactIn


class MessageIn(RequestBody):
    message: MultilineText = Field(min_length=1, max_length=2000)


class ResolveIn(RequestBody):
    summary: MultilineText = Field(
        min_length=1, max_length=2000, description="What was done, for the villager to read."
    )


class ReferIn(RequestBody):
    reason: MultilineText = Field(
        min_length=1, max_length=2000, description="Why the township should take it over."
    )


class RatingIn(RequestBody):
    score: int = Field(ge=1, le=5)
    comment: Text = Field(default="", max_length=500)


class ContactOut(BaseModel):
    method: ContactMethod
    note: str


class RatingOut(BaseModel):
    score: int
    comment: str
    rated_at: datetime


class DeadlineOut(BaseModel):
    """The deadline the request runs against now (times on the Asia/Shanghai calendar)."""

    kind: DeadlineKind = Field(
        description="`response`: first response from filing; `referral`: acceptance by the "
        "township from referral; `training`: enrolment on a training within 15 days of "
        "acceptance."
    )
    due_soon_at: datetime = Field(description="Its last quarter begins.")
    due_at: datetime
    state: Literal["on_time", "due_soon", "overdue"]


class HelpRequestOut(BaseModel):
    id: uuid.UUID
    member_id: uuid.UUID
    member_name: str
    village_code: str
    routed_to: str = Field(
        description="The region whose staff handle it: the village (its coordinators) or its "
        "township (the township's managers)."
    )
    category: HelpCategory
    description: str
    contact: ContactOut
    status: HelpStatus
    filed_by: uuid.UUID | None
    created_at: datetime
    updated_at: datetime
    accepted_at: datetime | None
    accepted_by: uuid.UUID | None
    referred_at: datetime | None
    resolved_at: datetime | None
    resolved_by: uuid.UUID | None
    withdrawn_at: datetime | None
    training_enrolled_at: datetime | None = Field(
        description="技能培训: when the member was enrolled on a training after acceptance."
    )
    rating: RatingOut | None
    deadline: DeadlineOut | None


class EventOut(BaseModel):
    id: uuid.UUID
    kind: EventKind
    actor_id: uuid.UUID | None
    actor_role: str
    actor_name: str
    message: str
    occurred_at: datetime


class HelpRequestDetail(HelpRequestOut):
    events: list[EventOut] = Field(
        description="The thread, oldest first: every step and every message of either side."
    )


class HelpRequestPage(Page[HelpRequestOut]):
    """A page of help requests, newest first."""


class TaskOut(BaseModel):
    kind: Literal["help_request"] = "help_request"
    due_at: datetime | None = Field(description="The running deadline, if any.")
    overdue: bool
    due_soon: bool
    help_request: HelpRequestOut


class TaskPage(Page[TaskOut]):
    """What waits for you: overdue first, then by nearest deadline, then the rest oldest
    first."""


class HelpRequestSettingIn(RequestBody):
    first_response_hours: int = Field(
        ge=MIN_FIRST_RESPONSE_HOURS,
        le=MAX_FIRST_RESPONSE_HOURS,
        description="How long a first response may take, in hours (calendar time).",
    )


class HelpRequestSettingOut(BaseModel):
    county_code: str
    first_response_hours: int
    updated_by: uuid.UUID | None
    updated_at: datetime | None
