"""Job pushes: rounds, scope, labour force, results, hires, villagers' answers, policy gaps."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select, update

from app.audit.models import AuditEvent
from app.auth.models import Role, UserAccount
from app.core.periods import current_period
from app.households.models import MemberEmployment, MemberIntent
from app.jobs.models import PushStatus
from app.jobs.pushes import can_move, next_round
from app.jobs.service import today
from app.policy.values import ObservationSource
from tests.households.factories import PersonSpec, make_household
from tests.jobs.conftest import VILLAGE_A, VILLAGE_B, add_jobs


@pytest.fixture
async def family(db, settings):
    _, members = await make_household(
        db,
        settings,
        VILLAGE_A,
        [
            PersonSpec("韦强"),
            PersonSpec("韦梅", relation="之女", labour_type="技能劳动力"),
            PersonSpec("韦老", relation="之父", labour_type="丧失劳动力"),
        ],
    )
    return members


async def _push(client, headers, job, *members):
    return await client.post(
        "/api/v1/job-pushes",
        json={"job_id": str(job.id), "member_ids": [str(m.id) for m in members]},
        headers=headers,
    )


def test_round_rule():
    assert next_round(0, 0) == 1
    assert next_round(1, 4) == 1
    assert next_round(1, 5) == 2
    assert can_move(PushStatus.pushed, PushStatus.interested)
    assert not can_move(PushStatus.interested, PushStatus.viewed)
    assert can_move(PushStatus.interviewed, PushStatus.declined)
    assert not can_move(PushStatus.hired, PushStatus.declined)


async def test_five_jobs_fill_a_round_and_the_sixth_opens_the_next(client, coordinator, family, db):
    worker = family[0]
    jobs = await add_jobs(db, 6)
    rounds = []
    for job in jobs:
        response = await _push(client, coordinator, job, worker)
        assert response.status_code == 201, response.text
        rounds.append(response.json()[0]["round"])
    assert rounds == [1, 1, 1, 1, 1, 2]
    progress = (
        await client.get(f"/api/v1/members/{worker.id}/push-progress", headers=coordinator)
    ).json()
    assert progress["rounds"] == 2 and progress["full_rounds"] == 1
    assert progress["jobs_pushed"] == 6 and progress["meets_policy"] is False
    listed = await client.get(f"/api/v1/members/{worker.id}/job-pushes", headers=coordinator)
    assert [p["round"] for p in listed.json()] == [2, 1, 1, 1, 1, 1]
    events = await db.scalar(
        select(func.count()).select_from(AuditEvent).where(AuditEvent.entity == "job_push")
    )
    assert events == 6


async def test_fifteen_jobs_meet_the_policy(client, coordinator, family, db):
    worker = family[0]
    for job in await add_jobs(db, 15):
        assert (await _push(client, coordinator, job, worker)).status_code == 201
    progress = (
        await client.get(f"/api/v1/members/{worker.id}/push-progress", headers=coordinator)
    ).json()
    assert progress == {
        "member_id": str(worker.id),
        "rounds": 3,
        "full_rounds": 3,
        "jobs_pushed": 15,
        "meets_policy": True,
        "required_rounds": 3,
        "jobs_per_round": 5,
    }


async def test_one_push_to_several_members(client, coordinator, family, db):
    (job,) = await add_jobs(db, 1)
    response = await _push(client, coordinator, job, family[0], family[1])
    assert response.status_code == 201
    assert {p["member_id"] for p in response.json()} == {str(family[0].id), str(family[1].id)}
    assert all(p["round"] == 1 and p["job"]["id"] == str(job.id) for p in response.json())


async def test_same_job_twice_is_409(client, coordinator, family, db):
    (job,) = await add_jobs(db, 1)
    assert (await _push(client, coordinator, job, family[0])).status_code == 201
    again = await _push(client, coordinator, job, family[0], family[1])
    assert again.status_code == 409 and again.json()["code"] == "already_pushed"
    # Nothing of the second request was kept.
    assert (
        len(
            (
                await client.get(f"/api/v1/members/{family[1].id}/job-pushes", headers=coordinator)
            ).json()
        )
        == 0
    )


async def test_member_outside_scope_is_404(client, make_user, auth, family, db):
    (job,) = await add_jobs(db, 1)
    other = auth(await make_user(Role.coordinator, [VILLAGE_B]))
    response = await _push(client, other, job, family[0])
    assert response.status_code == 404 and response.json()["code"] == "member_not_found"
    progress = await client.get(f"/api/v1/members/{family[0].id}/push-progress", headers=other)
    assert progress.status_code == 404


async def test_non_labour_member_is_422(client, coordinator, family, db):
    (job,) = await add_jobs(db, 1)
    response = await _push(client, coordinator, job, family[2])
    assert response.status_code == 422 and response.json()["code"] == "not_labour_force"


async def test_closed_or_expired_job_cannot_be_pushed(client, coordinator, family, db):
    (closed,) = await add_jobs(db, 1, status="closed")
    (expired,) = await add_jobs(db, 1, valid_until=today() - timedelta(days=1))
    for job in (closed, expired):
        response = await _push(client, coordinator, job, family[0])
        assert response.status_code == 409 and response.json()["code"] == "job_closed"


async def test_results_move_forward_only(client, coordinator, family, db):
    (job,) = await add_jobs(db, 1)
    push = (await _push(client, coordinator, job, family[0])).json()[0]
    url = f"/api/v1/job-pushes/{push['id']}"
    interested = await client.patch(url, json={"result": "interested"}, headers=coordinator)
    assert interested.status_code == 200 and interested.json()["status"] == "interested"
    back = await client.patch(url, json={"result": "viewed"}, headers=coordinator)
    assert back.status_code == 409 and back.json()["code"] == "illegal_transition"
    no_reason = await client.patch(url, json={"result": "declined"}, headers=coordinator)
    assert no_reason.status_code == 422
    declined = await client.patch(
        url, json={"result": "declined", "reason": "离家太远"}, headers=coordinator
    )
    assert declined.json()["status"] == "declined" and declined.json()["reason"] == "离家太远"
    after_end = await client.patch(url, json={"result": "hired"}, headers=coordinator)
    assert after_end.status_code == 409


async def test_hire_records_this_months_employment(client, coordinator, family, db):
    (job,) = await add_jobs(db, 1, employer="东莞某玩具厂", location_type="省内县外")
    push = (await _push(client, coordinator, job, family[0])).json()[0]
    hired = await client.patch(
        f"/api/v1/job-pushes/{push['id']}", json={"result": "hired"}, headers=coordinator
    )
    assert hired.status_code == 200, hired.text
    row = await db.get(MemberEmployment, (family[0].id, current_period()))
    assert row.status == "务工" and row.work_region == "省内县外"
    assert row.channel == "外出务工" and row.employer == "东莞某玩具厂"
    assert row.source == ObservationSource.manual
    member = await client.get(f"/api/v1/members/{family[0].id}", headers=coordinator)
    assert member.json()["employment"]["employer"] == "东莞某玩具厂"


async def test_villager_sees_and_answers_only_their_own(
    client, coordinator, make_user, auth, family, db
):
    jobs = await add_jobs(db, 2)
    mine = (await _push(client, coordinator, jobs[0], family[0])).json()[0]
    others = (await _push(client, coordinator, jobs[1], family[1])).json()[0]
    user = await make_user(Role.villager)
    await db.execute(
        update(UserAccount).where(UserAccount.id == user.id).values(member_id=family[0].id)
    )
    await db.commit()
    villager = auth(user)

    listed = await client.get("/api/v1/me/job-pushes", headers=villager)
    assert [p["id"] for p in listed.json()] == [mine["id"]]
    yes = await client.post(
        f"/api/v1/me/job-pushes/{mine['id']}/response", json={"interested": True}, headers=villager
    )
    assert yes.status_code == 200 and yes.json()["status"] == "interested"
    not_mine = await client.post(
        f"/api/v1/me/job-pushes/{others['id']}/response",
        json={"interested": False},
        headers=villager,
    )
    assert not_mine.status_code == 404
    no = await client.post(
        f"/api/v1/me/job-pushes/{mine['id']}/response",
        json={"interested": False, "reason": "要照顾老人"},
        headers=villager,
    )
    assert no.json()["status"] == "declined" and no.json()["reason"] == "要照顾老人"
    staff_only = await client.get(f"/api/v1/members/{family[0].id}/job-pushes", headers=villager)
    assert staff_only.status_code == 403


async def test_below_policy_lists_labourers_with_intent_short_of_rounds(
    client, coordinator, family, db, settings
):
    _, (outsider,) = await make_household(db, settings, VILLAGE_B, [PersonSpec("外村人")])
    now = datetime.now(UTC)
    for member, intent in (
        (family[0], "外出"),
        (family[1], "就近"),
        (family[2], "外出"),  # not labour force: never listed
        (outsider, "外出"),  # outside the coordinator's villages
    ):
        db.add(MemberIntent(member_id=member.id, intent=intent, source="manual", observed_at=now))
    await db.commit()
    for job in await add_jobs(db, 15):
        await _push(client, coordinator, job, family[1])
    (extra,) = await add_jobs(db, 1)
    await _push(client, coordinator, extra, family[0])

    response = await client.get("/api/v1/job-pushes/below-policy", headers=coordinator)
    assert response.status_code == 200, response.text
    items = response.json()["items"]
    assert [i["member_id"] for i in items] == [str(family[0].id)]
    assert items[0]["rounds"] == 1 and items[0]["full_rounds"] == 0
    assert items[0]["jobs_pushed"] == 1 and items[0]["intent"] == "外出"
