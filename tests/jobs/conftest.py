"""Arranging jobs and labourers for the jobs tests."""

from __future__ import annotations

import itertools
from datetime import timedelta

import pytest
from sqlalchemy import insert

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
        "region_code": VILLAGE_A,
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


def job_row(**overrides) -> dict:
    """A job's column values, open and valid for a month unless `overrides` say otherwise."""
    valid_until = overrides.pop("valid_until", today() + timedelta(days=30))
    status = overrides.pop("status", "open")
    return {**job_body(**overrides), "valid_until": valid_until, "status": status}


async def insert_jobs(db, rows: list[dict]) -> list[Job]:
    """Jobs straight into the database (the API's own tests post them), one per row of
    `job_row` values, in one INSERT and one commit; answered in the rows' order."""
    jobs = await db.scalars(insert(Job).returning(Job, sort_by_parameter_order=True), rows)
    created = list(jobs.all())
    await db.commit()
    return created


async def add_jobs(db, count: int = 1, **overrides) -> list[Job]:
    """`count` jobs alike but for their titles (see `job_row`)."""
    return await insert_jobs(db, [job_row(**overrides) for _ in range(count)])


@pytest.fixture
async def coordinator(make_user, auth):
    return auth(await make_user(Role.coordinator, [VILLAGE_A]))
