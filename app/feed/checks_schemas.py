"""Data checks on the wire: the rules, their findings, and exemptions."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from app.core.bodies import RequestBody
from app.core.pagination import Page
from app.core.types import MultilineText
from app.policy.data_checks import CheckCode, Personal


class CheckRuleOut(BaseModel):
    code: CheckCode = Field(description="Stable code, named by findings and exemptions")
    title: str
    explanation: str
    personal: Personal | None = Field(
        description="The personal field the rule reads (decrypted to check, never shown)"
    )


class CheckRulePage(Page[CheckRuleOut]):
    """Every data check, in the order they run (one page: `next_cursor` is null)."""


class FindingHousehold(BaseModel):
    id: uuid.UUID
    household_no: str
    village_code: str


class FindingMember(BaseModel):
    id: uuid.UUID
    member_no: str
    name: str


class FindingOut(BaseModel):
    id: uuid.UUID
    rule: CheckCode
    title: str
    household: FindingHousehold
    member: FindingMember | None = Field(description="Null for a rule about the household")
    period: str | None = Field(description="The month an employment rule looked at")
    details: dict[str, Any] = Field(description="The figures that made the rule fire")
    first_found_at: datetime = Field(description="Found by the first refresh it held at")
    last_found_at: datetime = Field(description="Still held at the last refresh")


class FindingPage(Page[FindingOut]):
    """A page of findings, household by household (by village, then household)."""


class ExemptionIn(RequestBody):
    rule: CheckCode
    household_id: uuid.UUID
    member_id: uuid.UUID | None = Field(
        default=None, description="One member of the household; omitted: the whole household"
    )
    reason: MultilineText = Field(min_length=2, max_length=200, description="Why it is exempt")


class ExemptionOut(BaseModel):
    id: uuid.UUID
    rule: CheckCode
    household_id: uuid.UUID
    member_id: uuid.UUID | None
    village_code: str
    reason: str
    created_by: uuid.UUID | None
    created_at: datetime


class ExemptionPage(Page[ExemptionOut]):
    """A page of exemptions, newest first."""
