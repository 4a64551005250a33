"""Days and months ("periods", `YYYY-MM`) as the county counts them: in Asia/Shanghai."""

from __future__ import annotations

import re
from datetime import date, datetime
from zoneinfo import ZoneInfo

SHANGHAI = ZoneInfo("Asia/Shanghai")
PERIOD_PATTERN = r"^\d{4}-(0[1-9]|1[0-2])$"
_PERIOD = re.compile(PERIOD_PATTERN)


def today(now: datetime | None = None) -> date:
    """The day in Asia/Shanghai, the county's day: a job's `valid_until` and the latest birth
    date an ID number may carry count in these days."""
    return (now or datetime.now(SHANGHAI)).astimezone(SHANGHAI).date()


def current_period(now: datetime | None = None) -> str:
    moment = (now or datetime.now(SHANGHAI)).astimezone(SHANGHAI)
    return f"{moment.year:04d}-{moment.month:02d}"


def is_period(value: str) -> bool:
    return bool(_PERIOD.match(value))


def shift_period(period: str, months: int) -> str:
    year, month = int(period[:4]), int(period[5:7])
    index = year * 12 + (month - 1) + months
    return f"{index // 12:04d}-{index % 12 + 1:02d}"
