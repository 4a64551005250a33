"""Answers of the watch lists (`/watch-lists/{name}`)."""

from __future__ import annotations

import uuid
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, Field

from app.core.pagination import Page


class WatchList(StrEnum):
    returned_home = "returned_home"  # 返乡回流
    willing_to_go_out = "willing_to_go_out"  # 有意愿外出
    unstable_employment = "unstable_employment"  # 就业不稳定
    no_intent_ledger = "no_intent_ledger"  # 无就业意愿台账
    risk_clearable = "risk_clearable"  # 可标注风险消除的户


# Lists of households rather than of people.
HOUSEHOLD_LISTS = frozenset({WatchList.risk_clearable})


class WatchListItem(BaseModel):
    member_id: uuid.UUID | None = Field(description="Null on a list of households")
    household_id: uuid.UUID
    name: str | None = Field(description="The member's name; on a household list, the head's")
    member_no: str | None
    village_code: str
    household_no: str
    figures: dict[str, Any] = Field(
        description="What put it on the list, by list (docs/alert_settings.md): numbers, "
        "text, periods"
    )


class WatchListPage(Page[WatchListItem]):
    """One page of a watch list, by village, household number and member number."""

    list: WatchList
    title: str
    period: str
