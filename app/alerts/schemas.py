"""What the alerts' endpoints take and answer."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from app.alerts.models import AlertRunStatus, AlertRunTrigger
from app.core.bodies import RequestBody
from app.core.pagination import Page
from app.core.periods import PERIOD_PATTERN
from app.core.types import MultilineText
from app.policy.alerts import AlertKind, AlertRule, AlertStatus, ResolutionAction

Period = Annotated[str, StringConstraints(pattern=PERIOD_PATTERN, min_length=7, max_length=7)]
RegionCodeText = Annotated[str, StringConstraints(pattern=r"^\d{12}$")]


class AlertOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    rule: AlertRule
    title: str = Field(description="The rule's Chinese name, e.g. 就业转失业")
    kind: AlertKind
    subject: str = Field(description="The member id, household id or region code it is about")
    county_code: str
    region_code: str = Field(description="The village of its member or household; the region")
    household_id: uuid.UUID | None
    member_id: uuid.UUID | None
    member_name: str | None
    status: AlertStatus
    opened_period: str = Field(description="The first month a run found the condition")
    last_period: str = Field(description="The latest month a run found the condition")
    ended_period: str | None = Field(
        description="The first month a run no longer found it; null while it holds"
    )
    months: int = Field(description="Months from opened_period to last_period, both counted")
    evidence: dict[str, dict[str, Any]] = Field(
        description='The figures that fired it, by month: {"2026-09": {...}}'
    )
    acknowledged_at: datetime | None
    acknowledged_by: uuid.UUID | None
    resolved_at: datetime | None
    resolved_by: uuid.UUID | None
    resolution_action: ResolutionAction | None
    resolution_note: str | None
    version: int
    created_at: datetime
    updated_at: datetime


class AlertPage(Page[AlertOut]):
    pass


class AlertResolutionIn(RequestBody):
    action: ResolutionAction = Field(
        description="职业指导 / 职业介绍 / 技能培训 / 公益性岗位安置 / 其他"
    )
    note: Annotated[MultilineText, StringConstraints(max_length=2000)] = Field(
        default="", description="What was done"
    )


class AlertRunIn(RequestBody):
    period: Period = Field(description="The month to compute, YYYY-MM (Asia/Shanghai)")
    region: RegionCodeText | None = Field(
        default=None,
        description="A region within yours (managers default to their own; admins must name it)",
    )


class AlertRunAccepted(BaseModel):
    id: uuid.UUID
    status: AlertRunStatus


class AlertRunOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    period: str
    region_code: str
    trigger: AlertRunTrigger
    requested_by: uuid.UUID | None
    status: AlertRunStatus
    rules_total: int
    rules_done: int = Field(description="Rules evaluated so far (live while it runs)")
    opened: int = Field(description="Episodes opened")
    continued: int = Field(description="Hits whose episode was already current")
    ended: int = Field(description="Episodes ended (or withdrawn on a recompute)")
    notified: int = Field(description="Digest notifications written")
    error_code: str | None
    error: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


class AlertRunPage(Page[AlertRunOut]):
    pass
