"""What both adapters hand the rest of the feed: one person's record, already checked and
repaired (`app.feed.mapping` makes them), or the reasons a row was refused."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Protocol


@dataclass(frozen=True, slots=True)
class FeedEmployment:
    """A member's employment in one month, as the feed states it (`FEED.md`)."""

    period: str  # YYYY-MM
    status: str  # 务工 / 未务工
    region: str | None
    channel: str | None
    employer: str | None
    months: int
    income: Decimal | None


@dataclass(frozen=True, slots=True)
class FeedRecord:
    """One person of the registry as the feed states them, with their household's fields.

    `line` says where it came from: the spreadsheet's row number as the clerk sees it (1 is
    the first row of the sheet), or the record's position in an HTTP page (from 1)."""

    line: int
    household_no: str
    village_code: str
    household_category: str
    monitor_type: str | None
    risk_types: tuple[str, ...]
    risk_eliminated: bool
    relocated: bool
    income_per_capita: Decimal | None
    member_no: str
    name: str
    id_number: str  # 18 characters, upper-case X; its check digit may still be wrong
    relation: str
    phone: str | None
    labour_type: str
    employment: FeedEmployment | None
    updated_at: datetime | None  # the HTTP feed's, with its offset; a spreadsheet has none
    deleted: bool = False
    # False when the ID number has the right shape but fails its check digit or carries a
    # birth date that does not exist: kept, and turned into a reconciliation item.
    id_number_valid: bool = True


@dataclass(frozen=True, slots=True)
class RowError:
    """Why one row was refused, in words a county clerk understands (Chinese).

    `column` is the column as the source names it (the spreadsheet's header, or the HTTP
    field); `value` is what was there, masked when it is personal data."""

    line: int
    column: str | None
    value: str | None
    reason: str


@dataclass(frozen=True, slots=True)
class Batch:
    """What an adapter hands over at a time: a page of the HTTP feed, or a chunk of a
    spreadsheet. Applied in one transaction together with `position`."""

    records: list[FeedRecord]
    errors: list[RowError]
    rows_read: int
    # Where the next batch starts: the feed's next cursor, or the next spreadsheet line.
    position: str | None
    has_more: bool


class FeedSource(Protocol):
    """One adapter: the HTTP feed (`app.feed.http_source`) or a spreadsheet
    (`app.feed.spreadsheet`). `start` is a `position` a batch gave earlier, or None."""

    def batches(self, start: str | None) -> AsyncIterator[Batch]: ...
