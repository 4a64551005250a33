"""Rules of trainings: enrolment and QR check-in."""

from __future__ import annotations

# A check-in code shown as a QR by the coordinator is valid this long (seconds). Short, so a
# photo of the screen sent to someone at home is useless by the time it could be abused.
CHECKIN_CODE_TTL_SECONDS = 300

# A code may be generated from this long before a session starts until the session ends
# (people arrive early; the roll is taken on the day, not the week before).
CHECKIN_OPENS_BEFORE_SECONDS = 3600
