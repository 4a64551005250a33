from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from app.core.bodies import RequestBody
from app.core.pagination import Page
from app.core.types import Instant, MultilineText
from app.households.schemas import EmploymentIn, IntentIn
from app.policy.values import VisitMethod


class Location(RequestBody):
    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)


class MemberUpdate(RequestBody):
    """What the visit found about one member; applied in the same transaction as the visit."""

    member_id: uuid.UUID
    employment: EmploymentIn | None = Field(
        default=None, description="This month's employment (the month of `visited_at`)."
    )
    intent: IntentIn | None = None


class VisitIn(RequestBody):
    id: uuid.UUID = Field(description="Chosen by the phone; resending it is safe.")
    household_id: uuid.UUID
    visited_at: Instant
    method: VisitMethod
    location: Location | None = None
    notes: MultilineText = Field(default="", max_length=2000)
    member_updates: list[MemberUpdate] = Field(default_factory=list, max_length=30)


class VisitOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    household_id: uuid.UUID
    coordinator_id: uuid.UUID
    village_code: str
    visited_at: datetime
    method: VisitMethod
    location: Location | None
    distance_m: int | None = Field(description="Metres from the village's recorded centre.")
    needs_review: bool = Field(
        description="Logged farther from the village than policy allows: check it."
    )
    notes: str
    created_at: datetime


class VisitPage(Page[VisitOut]):
    """A page of visits, newest first."""
