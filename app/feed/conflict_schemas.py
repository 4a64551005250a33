"""Reconciliation on the wire: conflict items, their resolution, and a county's precedence."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from app.core.bodies import RequestBody
from app.core.pagination import Page
from app.core.periods import PERIOD_PATTERN
from app.core.types import MultilineText
from app.feed.values import ConflictKind, ConflictResolution, ConflictStatus, Precedence
from app.households.schemas import EmploymentIn
from app.policy.values import Channel, EmploymentStatus, ObservationSource, WorkRegion


class EmploymentSide(BaseModel):
    """One side's employment for the month, where it came from and when it was observed (the
    feed's: its record's `updated_at`)."""

    model_config = ConfigDict(extra="ignore")

    status: EmploymentStatus
    region: WorkRegion | None = None
    channel: Channel | None = None
    employer: str | None = None
    months: int = 0
    income: Decimal | None = None
    source: ObservationSource
    observed_at: datetime


class FeedPerson(BaseModel):
    """The feed's record of a member whose ID number is in question (nothing personal but the
    masked number)."""

    model_config = ConfigDict(extra="ignore")

    member_no: str
    household_no: str | None = None
    name: str | None = None
    id_number: str | None = Field(default=None, description="Masked, e.g. `450226********1234`.")
    village_code: str | None = None
    shared_with: list[str] = Field(
        default_factory=list,
        description="`id_number_shared`: the other members (`member_no`) with the same number.",
    )


class ConflictMember(BaseModel):
    id: uuid.UUID
    member_no: str
    name: str


class ConflictHousehold(BaseModel):
    id: uuid.UUID
    household_no: str


class ConflictOut(BaseModel):
    id: uuid.UUID
    kind: ConflictKind
    status: ConflictStatus
    member_no: str
    village_code: str
    period: str | None = Field(pattern=PERIOD_PATTERN, examples=["2026-11"])
    member: ConflictMember | None = Field(description="Our member, when we have one.")
    household: ConflictHousehold | None
    ours: EmploymentSide | None = Field(description="`employment`: what we recorded.")
    theirs: EmploymentSide | None = Field(description="`employment`: what the feed says.")
    feed_record: FeedPerson | None = Field(
        description="`id_number_invalid` / `id_number_shared`: the feed's record in question."
    )
    resolution: ConflictResolution | None
    resolved_value: EmploymentSide | None = Field(
        description="The employment written by the resolution (none when dismissed)."
    )
    resolved_by: uuid.UUID | None
    resolved_at: datetime | None
    created_at: datetime
    updated_at: datetime


class ConflictPage(Page[ConflictOut]):
    pass


class ResolutionIn(RequestBody):
    resolution: ConflictResolution = Field(
        description="`ours`, `theirs` or `value` for an `employment` item; `dismissed` for an "
        "ID-number item."
    )
    value: EmploymentIn | None = Field(
        default=None, description="The employment to record: with `value`, and only then."
    )
    note: MultilineText | None = Field(default=None, max_length=500, description="Why")

    @model_validator(mode="after")
    def _value_with_value(self) -> ResolutionIn:
        if (self.resolution is ConflictResolution.value) != (self.value is not None):
            raise ValueError("仅在 resolution 为 value 时须填写 value")
        return self


class FeedSettingOut(BaseModel):
    county_code: str
    precedence: Precedence = Field(
        description="Which side our working copy shows while the feed and a coordinator "
        "disagree: `ours` (default), `theirs`, or `newer` (the later observation; a tie keeps "
        "ours)."
    )
    updated_by: uuid.UUID | None
    updated_at: datetime | None = Field(description="None: the county has set nothing yet.")


class FeedSettingIn(RequestBody):
    precedence: Precedence
