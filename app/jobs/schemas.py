from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, model_validator

from app.core.bodies import RequestBody
from app.core.pagination import Items, Page
from app.core.types import Day, Label, MultilineText, Patch, Text
from app.jobs.models import JobStatus, PushStatus
from app.policy.values import Intent, JobSource, WorkRegion

REGION_CODE = r"^\d{12}$"


class JobIn(RequestBody):
    title: Text = Field(min_length=1, max_length=100)
    employer: Text = Field(min_length=1, max_length=128)
    region_code: str = Field(pattern=REGION_CODE, description="Where the job is (a known region)")
    location_type: WorkRegion = Field(description="省外 / 省内县外 / 县内, seen from the county")
    wage_min: int = Field(ge=0, le=1_000_000, description="Monthly wage from, in yuan")
    wage_max: int = Field(ge=0, le=1_000_000, description="Monthly wage up to, in yuan")
    headcount: int = Field(ge=1, le=100_000)
    requirements: MultilineText = Field(default="", max_length=2000)
    skills: list[Label] = Field(default_factory=list, max_length=30)
    source: JobSource
    valid_until: Day = Field(description="Last day the opening is valid (Asia/Shanghai)")
    heavy_labour: StrictBool = Field(
        default=False, description="Unsuitable for 弱劳动力或半劳动力: never matched to them"
    )

    @model_validator(mode="after")
    def _wage_range(self) -> JobIn:
        if self.wage_min > self.wage_max:
            raise ValueError("最低工资不能高于最高工资（wage_min <= wage_max）")
        return self


class JobPatch(Patch):
    """Fields to change; the others stay as they are."""

    title: Text | None = Field(default=None, min_length=1, max_length=100)
    employer: Text | None = Field(default=None, min_length=1, max_length=128)
    region_code: str | None = Field(default=None, pattern=REGION_CODE)
    location_type: WorkRegion | None = None
    wage_min: int | None = Field(default=None, ge=0, le=1_000_000)
    wage_max: int | None = Field(default=None, ge=0, le=1_000_000)
    headcount: int | None = Field(default=None, ge=1, le=100_000)
    requirements: MultilineText | None = Field(default=None, max_length=2000)
    skills: list[Label] | None = Field(default=None, max_length=30)
    source: JobSource | None = None
    valid_until: Day | None = None
    heavy_labour: StrictBool | None = None
    status: JobStatus | None = None


class JobOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    title: str
    employer: str
    region_code: str
    location_type: WorkRegion
    wage_min: int
    wage_max: int
    headcount: int
    requirements: str
    skills: list[str]
    source: JobSource
    valid_until: date
    heavy_labour: bool
    status: JobStatus
    created_at: datetime
    updated_at: datetime


class PushIn(RequestBody):
    job_id: uuid.UUID
    member_ids: list[uuid.UUID] = Field(min_length=1, max_length=500)


class PushOut(BaseModel):
    id: uuid.UUID
    job_id: uuid.UUID
    member_id: uuid.UUID
    round: int = Field(description="The member's push round this job counts in (from 1)")
    status: PushStatus
    reason: str | None
    pushed_at: datetime
    updated_at: datetime
    job: JobOut


class PushOutcome(PushOut):
    """One member's push in the answer to a push request."""

    created: bool = Field(
        description="True: pushed by this request; false: the member already had this job's "
        "push, answered as it stands"
    )


class PushResultIn(RequestBody):
    result: Literal["viewed", "interested", "interviewed", "hired", "declined"] = Field(
        description="Moves forward only; `declined` from any state before `hired` or `declined`"
    )
    reason: MultilineText | None = Field(
        default=None, max_length=200, description="Required for declined"
    )

    @model_validator(mode="after")
    def _declined_has_reason(self) -> PushResultIn:
        if self.result == PushStatus.declined and not (self.reason or "").strip():
            raise ValueError("婉拒须说明原因（reason）")
        return self


class PushResponseIn(RequestBody):
    interested: bool
    reason: MultilineText | None = Field(
        default=None, max_length=200, description="Why not, if not"
    )


class PushProgress(BaseModel):
    member_id: uuid.UUID
    rounds: int = Field(description="Rounds opened so far")
    full_rounds: int = Field(description="Rounds holding at least the policy's jobs per round")
    jobs_pushed: int
    meets_policy: bool
    required_rounds: int
    jobs_per_round: int


class BelowPolicyItem(BaseModel):
    member_id: uuid.UUID
    household_id: uuid.UUID
    village_code: str
    name: str
    intent: Intent
    rounds: int
    full_rounds: int
    jobs_pushed: int


class JobMatch(BaseModel):
    job: JobOut
    score: int
    reasons: list[str] = Field(description="Why it ranks where it does, in Chinese")
    already_pushed: bool


class JobPage(Page[JobOut]):
    """A page of job openings, newest first."""


class PushPage(Page[PushOut]):
    """A page of pushes, latest round first."""


class PushOutcomes(Items[PushOutcome]):
    """Every requested member's push, in the order asked."""


class BelowPolicyPage(Page[BelowPolicyItem]):
    """A page of labourers short of push rounds, by village."""


class JobMatchPage(Page[JobMatch]):
    """Jobs ranked for a member, best first: one page of at most `limit`, `next_cursor` null."""
