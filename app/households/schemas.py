from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StrictBool, WithJsonSchema, model_validator

from app.core.bodies import RequestBody
from app.core.pagination import Page
from app.core.periods import PERIOD_PATTERN
from app.core.types import Instant, Label, MultilineText, Patch, Text
from app.policy.values import (
    Channel,
    EmploymentStatus,
    HouseholdCategory,
    Intent,
    LabourType,
    MonitorType,
    ObservationSource,
    RiskType,
    WorkRegion,
)

# Yuan, to the fen, up to 12 digits: a number or its text (the document says both precisely,
# so a schema-valid amount is accepted).
_INCOME_SCHEMA = {
    "anyOf": [
        {"type": "number", "minimum": 0, "maximum": 9999999999.99, "multipleOf": 0.01},
        {"type": "string", "pattern": r"^\d{1,10}(\.\d{1,2})?$"},
        {"type": "null"},
    ],
    "title": "Income",
}


class EmploymentIn(RequestBody):
    status: EmploymentStatus
    region: WorkRegion | None = Field(default=None, description="省外 / 省内县外 / 县内")
    channel: Channel | None = None
    employer: Text | None = Field(default=None, max_length=128)
    months: int = Field(default=0, ge=0, le=12, description="Months worked this year (务工时间)")
    income: Annotated[Decimal | None, WithJsonSchema(_INCOME_SCHEMA)] = Field(
        default=None, ge=0, max_digits=12, decimal_places=2
    )
    observed_at: Instant | None = Field(
        default=None,
        description="When this was observed, with its UTC offset; defaults to now (a visit: "
        "its `visited_at`).",
    )

    @model_validator(mode="after")
    def _working_needs_where(self) -> EmploymentIn:
        if self.status is EmploymentStatus.working and self.region is None:
            raise ValueError("务工时须填写务工地域（region）")
        if self.status is EmploymentStatus.not_working and (self.region or self.channel):
            raise ValueError("未务工时不应填写务工地域或就业渠道")
        return self


class EmploymentOut(BaseModel):
    period: str = Field(pattern=PERIOD_PATTERN, examples=["2026-11"])
    status: EmploymentStatus
    region: WorkRegion | None
    channel: Channel | None
    employer: str | None
    months: int
    income: Decimal | None
    source: ObservationSource
    observed_at: datetime


class IntentIn(RequestBody):
    intent: Intent
    reason: MultilineText | None = Field(
        default=None, max_length=200, description="Required for 无意愿"
    )
    training_needs: list[Label] = Field(default_factory=list, max_length=20)
    wanted_job_types: list[Label] = Field(default_factory=list, max_length=20)

    @model_validator(mode="after")
    def _no_intent_has_reason(self) -> IntentIn:
        if self.intent is Intent.none and not (self.reason or "").strip():
            raise ValueError("无就业意愿须说明原因（reason）")
        return self


class IntentOut(BaseModel):
    intent: Intent
    reason: str | None
    training_needs: list[str]
    wanted_job_types: list[str]
    source: ObservationSource
    observed_at: datetime


class MemberOut(BaseModel):
    id: uuid.UUID
    household_id: uuid.UUID
    member_no: str
    name: str
    id_number: str = Field(description="Masked, e.g. `450226********1234`.")
    relation: str
    phone: str | None = Field(description="Masked, e.g. `138****5678`.")
    labour_type: LabourType
    skills: list[str]
    in_school: bool
    disability: bool
    version: int
    employment: EmploymentOut | None = Field(description="The latest month on record.")
    intent: IntentOut | None


class MemberPatch(Patch):
    """Fields a coordinator may correct. Send `If-Match` (the ETag) or `version`."""

    nullable = frozenset({"phone", "version"})

    name: Text | None = Field(default=None, min_length=1, max_length=64)
    relation: Text | None = Field(default=None, min_length=1, max_length=16)
    phone: str | None = Field(default=None, pattern=r"^1\d{10}$")
    labour_type: LabourType | None = None
    skills: list[Label] | None = Field(default=None, max_length=30)
    in_school: StrictBool | None = None
    disability: StrictBool | None = None
    version: int | None = Field(default=None, description="The version you read (or If-Match).")


class HouseholdOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    household_no: str
    village_code: str
    category: HouseholdCategory
    monitor_type: MonitorType | None
    risk_types: list[RiskType | str]
    risk_eliminated: bool
    relocated: bool
    income_per_capita: Decimal | None
    version: int


class HouseholdSummary(HouseholdOut):
    head_name: str | None = Field(description="Name of the head of household (户主)")
    member_count: int


class HouseholdDetail(HouseholdOut):
    members: list[MemberOut]


class IdNumberLookup(RequestBody):
    id_number: Text = Field(min_length=1, max_length=40)


class RevealRequest(RequestBody):
    reason: MultilineText = Field(
        min_length=4, max_length=500, description="Why you need the full number"
    )


class RegistrySettingOut(BaseModel):
    county_code: str
    id_reveal_max: int = Field(
        description="Full ID numbers one manager may see an hour (`ID_REVEAL_MAX` until the "
        "county sets its own)"
    )
    updated_by: uuid.UUID | None
    updated_at: datetime | None = Field(description="None: the county has set nothing yet.")


class RegistrySettingIn(RequestBody):
    id_reveal_max: int = Field(ge=0, le=1000)


class RevealedIdNumber(BaseModel):
    member_id: uuid.UUID
    id_number: str


class HouseholdPage(Page[HouseholdSummary]):
    """A page of households, by village and household number."""
