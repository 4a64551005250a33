"""The stored columns of a member's employment and intent, from what was typed or observed.

`households.employment` writes them (PUT employment and intent, a hire's employment); a visit
writes the same columns in SQL (`app/visits/write.py`), and a test holds the two to the same
audit trail.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from app.households.schemas import EmploymentIn, IntentIn
from app.policy.values import ObservationSource


def employment_values(
    body: EmploymentIn, source: ObservationSource, at: datetime
) -> dict[str, Any]:
    return {
        "status": body.status.value,
        "work_region": body.region.value if body.region else None,
        "channel": body.channel.value if body.channel else None,
        "employer": body.employer,
        "months": body.months,
        "income": body.income,
        "source": source.value,
        "observed_at": body.observed_at or at,
    }


def intent_values(body: IntentIn, source: ObservationSource) -> dict[str, Any]:
    return {
        "intent": body.intent.value,
        "reason": (body.reason or "").strip() or None,
        "training_needs": body.training_needs,
        "wanted_job_types": body.wanted_job_types,
        "source": source.value,
    }
