from __future__ import annotations

import uuid
from datetime import date, datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, StrictBool, model_validator

from app.core.bodies import RequestBody
from app.core.pagination import Items, Page
from app.core.types import Day, Instant, Text
from app.policy.values import TrainingType


class EnrollmentStatus(StrEnum):
    enrolled = "enrolled"
    waitlisted = "waitlisted"


class AttendanceSource(StrEnum):
    roll = "roll"  # the coordinator took the roll
    checkin = "checkin"  # the villager scanned the session's code


class SessionIn(RequestBody):
    starts_at: Instant
    ends_at: Instant

    @model_validator(mode="after")
    def _ends_after_starts(self) -> SessionIn:
        if self.ends_at <= self.starts_at:
            raise ValueError("课次结束时间须晚于开始时间")
        return self


class TrainingIn(RequestBody):
    title: Text = Field(min_length=1, max_length=200)
    type: TrainingType
    region_code: str = Field(pattern=r"^\d{12}$", description="Where it is held: in your regions")
    organizer: Text = Field(min_length=1, max_length=128)
    location: Text = Field(min_length=1, max_length=200)
    capacity: int = Field(ge=1, le=10_000)
    starts_at: Instant
    ends_at: Instant
    sessions: list[SessionIn] | None = Field(
        default=None,
        min_length=1,
        max_length=200,
        description="Sittings within the course; omitted: one session spanning it.",
    )

    @model_validator(mode="after")
    def _consistent_times(self) -> TrainingIn:
        if self.ends_at <= self.starts_at:
            raise ValueError("培训结束时间须晚于开始时间")
        for item in self.sessions or []:
            if item.starts_at < self.starts_at or item.ends_at > self.ends_at:
                raise ValueError("每个课次须在培训起止时间之内")
        return self


class SessionOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    starts_at: datetime
    ends_at: datetime


class TrainingSummary(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    title: str
    type: TrainingType
    region_code: str
    organizer: str
    location: str
    capacity: int
    starts_at: datetime
    ends_at: datetime
    created_at: datetime
    enrolled: int = Field(description="Members enrolled (within capacity)")
    waitlisted: int = Field(description="Members on the waiting list")


class TrainingDetail(TrainingSummary):
    sessions: list[SessionOut]


class EnrollmentIn(RequestBody):
    member_id: uuid.UUID


class EnrollmentOut(BaseModel):
    training_id: uuid.UUID
    member_id: uuid.UUID
    status: EnrollmentStatus
    waitlist_position: int | None = Field(
        description="1 for the next to be promoted; null when enrolled."
    )
    created_at: datetime
    completed_on: date | None
    certificate_no: str | None


class CancellationOut(BaseModel):
    member_id: uuid.UUID
    promoted_member_id: uuid.UUID | None = Field(
        description="The first on the waiting list, enrolled in the freed place (if any)."
    )


class AttendanceIn(RequestBody):
    session_id: uuid.UUID
    member_ids: list[uuid.UUID] = Field(min_length=1, max_length=1000)
    present: StrictBool = True


class AttendanceOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    session_id: uuid.UUID
    member_id: uuid.UUID
    present: bool
    source: AttendanceSource
    recorded_at: datetime


class CheckinCode(BaseModel):
    code: str = Field(description="Show it as a QR code; the villager's app posts it back.")
    expires_at: datetime
    session_id: uuid.UUID


class CheckinIn(RequestBody):
    code: Text = Field(min_length=1, max_length=512)


class CheckinOut(BaseModel):
    training_id: uuid.UUID
    session_id: uuid.UUID
    member_id: uuid.UUID
    checked_in_at: datetime


class CompletionIn(RequestBody):
    member_id: uuid.UUID
    completed_on: Day
    certificate_no: Text | None = Field(default=None, min_length=1, max_length=64)


class MemberTrainingOut(BaseModel):
    training_id: uuid.UUID
    title: str
    type: TrainingType
    region_code: str
    starts_at: datetime
    ends_at: datetime
    status: EnrollmentStatus
    completed_on: date | None
    certificate_no: str | None


class TrainingPage(Page[TrainingSummary]):
    """A page of trainings, latest start first."""


class AttendancePage(Page[AttendanceOut]):
    """A page of a training's attendance, by session and member."""


class AttendanceRecords(Items[AttendanceOut]):
    """The roll as recorded: one row per member marked."""


class MemberTrainingPage(Page[MemberTrainingOut]):
    """A page of a member's trainings, latest start first."""
