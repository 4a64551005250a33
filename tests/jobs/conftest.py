"""Arranging jobs and labourers for the jobs tests."""

from __future__ import annotations

import itertools
from datetime import timedelta

import pytest

from app.auth.models import Role
from app.core.periods import today
from app.jobs.models import Job

VILLAGE_A = "450226100201"
VILLAGE_B = "450226101201"
TOWNSHIP_A = "450226100000"
_serial = itertools.count(1)


def job_body(**overrides):
    body = {
        "title": f"普工{next(_serial)}",
        "employer": "广东某电子厂",
        "region_code": "450226100000",
        "location_type": "省外",
        "wage_min": 4000,
        "wage_max": 6000,
        "headcount": 10,
        "requirements": "18-50 岁",
        "skills": [],
        "source": "劳务协作",
        "valid_until": (today() + timedelta(days=30)).isoformat(),
    }
    body.update(overrides)
    return body


async def add_jobs(db, count: int = 1, **overrides) -> list[Job]:
    """Jobs straight into the database (the API's own tests post them)."""
    valid_until = overrides.pop("valid_until", today() + timedelta(days=30))
    status = overrides.pop("status", "open")
    jobs = [
        Job(**{**job_body(**overrides), "valid_until": valid_until, "status": status})
        for _ in range(count)
    ]
    db.add_all(jobs)
    await db.commit()
    return jobs


@pytest.fixture
async def coordinator(make_user, auth):
    return auth(await make_user(Role.coordinator, [VILLAGE_A]))
