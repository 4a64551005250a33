"""Objects of a county for requests to reach past "not found", and a county manager to send
them; values the schemas accept come from `openapi_requests`."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import insert

from app.auth.models import Role
from app.core.periods import current_period
from app.feed.models import FeedConflict
from tests.households.factories import PersonSpec, make_household
from tests.security.openapi_requests import SCHEMAS, valid

COUNTY = "450226000000"
VILLAGE = "450226100201"


@pytest.fixture
async def known(client, db, settings, staff) -> dict[str, Any]:
    """Objects in the manager's county, so a hostile body reaches past "not found": the ids
    the operations take by these names, in the path or in the body."""
    _, [member] = await make_household(db, settings, VILLAGE, [PersonSpec("韦强")])
    job = await client.post("/api/v1/jobs", json=valid(SCHEMAS["JobIn"]), headers=staff)
    training = await client.post(
        "/api/v1/trainings", json=valid(SCHEMAS["TrainingIn"]), headers=staff
    )
    assert job.status_code == 201, job.text
    assert training.status_code == 201, training.text
    month = {"status": "未务工", "months": 0, "observed_at": "2026-11-20T10:30:00+08:00"}
    conflict = await db.scalar(
        insert(FeedConflict)
        .values(
            kind="employment",
            member_no=member.member_no,
            member_id=member.id,
            village_code=VILLAGE,
            period=current_period(),
            ours={**month, "source": "visit"},
            theirs={**month, "source": "feed"},
        )
        .returning(FeedConflict.id)
    )
    await db.commit()
    ids = {
        "conflict_id": str(conflict),
        "member_id": str(member.id),
        "member_ids": [str(member.id)],
        "household_id": str(member.household_id),
        "job_id": job.json()["id"],
        "training_id": training.json()["id"],
        "code": VILLAGE,
        "period": current_period(),
    }
    push = await client.post(
        "/api/v1/job-pushes",
        json={"job_id": ids["job_id"], "member_ids": ids["member_ids"]},
        headers=staff,
    )
    if push.status_code == 201:
        ids["push_id"] = push.json()["items"][0]["id"]
    return ids


@pytest.fixture
async def staff(make_user, auth) -> dict[str, str]:
    return auth(await make_user(Role.manager, [COUNTY]))
