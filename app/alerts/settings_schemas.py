"""Bodies and answers of the alert settings: each rule's switch and thresholds with the run day
(`/alert-rules`), monitoring lines (`/monitoring-lines`) and employment targets
(`/employment-targets`)."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Annotated

from pydantic import BaseModel, Field, StrictBool, StrictInt

from app.core.bodies import RequestBody
from app.core.pagination import Page
from app.core.types import Text
from app.policy.alerts import MAX_RUN_DAY, MIN_RUN_DAY, AlertKind, AlertRule, AlertSubject

ThresholdValue = StrictBool | StrictInt


class ThresholdOut(BaseModel):
    name: str = Field(description="The threshold's name, as `PUT` takes it")
    title: str
    value: ThresholdValue = Field(description="What the county runs on")
    default: ThresholdValue
    minimum: int | None = Field(description="Lowest value allowed; null for a switch")
    maximum: int | None = Field(description="Highest value allowed; null for a switch")


class RuleSettingOut(BaseModel):
    rule: AlertRule
    title: str
    subject: AlertSubject
    kind: AlertKind
    description: str
    enabled: bool
    thresholds: list[ThresholdOut]


class AlertSettingsOut(BaseModel):
    county_code: str
    run_day: int = Field(description="Day of the month the scheduled run computes the month")
    rules: list[RuleSettingOut]
    updated_by: uuid.UUID | None = Field(description="Who last changed anything of these")
    updated_at: datetime | None = Field(description="None: the county runs on the defaults.")


class RuleSettingIn(RequestBody):
    rule: Annotated[Text, Field(max_length=32, description="A rule's code, e.g. `income_drop`")]
    enabled: bool | None = Field(default=None, description="Omitted: left as it is")
    thresholds: dict[Annotated[Text, Field(max_length=64)], ThresholdValue | None] = Field(
        default_factory=dict,
        description="Threshold name → value; null returns it to the default. Thresholds not "
        "named are left as they are. Switches take true/false, numbers integers in bounds.",
    )


class AlertSettingsIn(RequestBody):
    run_day: int | None = Field(
        default=None, ge=MIN_RUN_DAY, le=MAX_RUN_DAY, description="Omitted: left as it is"
    )
    rules: list[RuleSettingIn] = Field(
        default_factory=list, max_length=64, description="Rules not named are left as they are"
    )


# Monitoring lines ------------------------------------------------------------------------------

Money = Annotated[Decimal, Field(gt=0, max_digits=12, decimal_places=2)]


class MonitoringLineIn(RequestBody):
    """Exactly one form: a fixed `amount`, or `dibao` × `dibao_multiple`."""

    amount: Money | None = Field(default=None, description="Yuan per head per year")
    dibao: Money | None = Field(
        default=None, description="The local rural 低保 standard, yuan per head per year"
    )
    dibao_multiple: Annotated[Decimal, Field(ge=Decimal("0.1"), le=10, decimal_places=2)] | None = (
        Field(default=None, description="The line is this many times `dibao`, e.g. 2")
    )
    note: Annotated[Text, Field(max_length=200)] | None = Field(
        default=None, description="Where the line comes from (a document's number)"
    )


class MonitoringLineOut(BaseModel):
    region_code: str
    region_name: str
    level: str
    year: int
    amount: Decimal = Field(description="The line, yuan per head per year (a formula worked out)")
    dibao: Decimal | None
    dibao_multiple: Decimal | None
    note: str | None
    updated_by: uuid.UUID | None
    updated_at: datetime


class MonitoringLinePage(Page[MonitoringLineOut]):
    """Lines by region code (province first) and year."""


class EffectiveLineOut(BaseModel):
    region_code: str = Field(description="The region asked about")
    year: int
    amount: Decimal | None = Field(description="The line that applies; null: none set up the tree")
    source: MonitoringLineOut | None = Field(
        description="The line itself: the nearest region up the tree that has one"
    )


# Employment targets ----------------------------------------------------------------------------


class EmploymentTargetIn(RequestBody):
    target: int = Field(gt=0, le=10_000_000, description="Labourers working this year")


class EmploymentTargetOut(BaseModel):
    region_code: str
    region_name: str
    level: str
    year: int
    target: int
    updated_by: uuid.UUID | None
    updated_at: datetime


class EmploymentTargetPage(Page[EmploymentTargetOut]):
    """Targets by region code and year."""
