"""Rules of help requests (`DOMAIN.md`, "Help requests"): how long the first answer may take,
the 15-day training rule, and when a late request is flagged and escalated.

Deadlines count calendar time in Asia/Shanghai: hours and days as the wall clock there runs,
nights, weekends and public holidays included (no working-day calendar). Shanghai keeps no
daylight saving, so a day is always 24 hours; the marks are still computed on the Shanghai
clock, so the rule reads as the county states it ("within 15 days of acceptance").

Each deadline has one length, from the moment its clock starts:
- `response`: from filing, the county's first-response time (`help_request_setting`,
  `DEFAULT_FIRST_RESPONSE_HOURS` until the county sets one). Met by acceptance or referral.
- `referral`: from a referral to the township, the same county time. Met by acceptance.
- `training`: from acceptance of a 技能培训 request, `TRAINING_ENROLMENT_DAYS`. Met when the
  member is enrolled (`training_enrollment` with status `enrolled`, created after acceptance).

Along each, three marks, each acted on once (`help_request_escalation`):
- `due_soon`: the last quarter of the time begins: flagged for whoever handles the request;
- `township`: the deadline passes: escalated to the managers of the village's township;
- `county`: a further full length passes unmet: escalated to the county's managers.
A deadline is fixed when its clock starts: a county changing its time later moves no
deadline already running.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from app.core.periods import SHANGHAI
from app.policy.values import HelpCategory

DEFAULT_FIRST_RESPONSE_HOURS = 24
# What a county may set: at least an hour, at most a month.
MIN_FIRST_RESPONSE_HOURS = 1
MAX_FIRST_RESPONSE_HOURS = 720

TRAINING_ENROLMENT_DAYS = 15
# The category whose acceptance starts the training clock.
TRAINING_CATEGORY = HelpCategory.training

# The last quarter of a deadline's time is "due soon".
DUE_SOON_FRACTION = 0.25
# Unmet this many further lengths after the deadline, a request goes to the county.
COUNTY_AFTER_LENGTHS = 1


@dataclass(frozen=True, slots=True)
class Marks:
    due_soon_at: datetime
    due_at: datetime
    county_at: datetime


def marks(start: datetime, length: timedelta) -> Marks:
    """A deadline's marks for a clock started at `start` running `length`, on the Shanghai
    wall clock."""
    local = start.astimezone(SHANGHAI)
    due = local + length
    return Marks(
        due_soon_at=due - length * DUE_SOON_FRACTION,
        due_at=due,
        county_at=due + length * COUNTY_AFTER_LENGTHS,
    )


def first_response_length(hours: int | None) -> timedelta:
    return timedelta(hours=hours if hours is not None else DEFAULT_FIRST_RESPONSE_HOURS)


def training_length() -> timedelta:
    return timedelta(days=TRAINING_ENROLMENT_DAYS)
