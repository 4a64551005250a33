"""Job pushes: rounds, retries, scope, labour force, results, hires, villagers' views and
answers, policy gaps."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Container
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select, update

from app.audit.models import AuditEvent
from app.auth.models import Role, UserAccount
from app.core.periods import current_period, today
from app.households.models import Member, MemberEmployment, MemberIntent
from app.jobs.models import JobPush, PushStatus
from app.jobs.pushes import can_move, next_round
from app.policy.values import ObservationSource
from tests.households.factories import PersonSpec, inserting_at_once, make_household
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


async def _push_events(db, *, besides: Container[uuid.UUID] = ()) -> list[AuditEvent]:
    """The audit rows about pushes, but those already seen (`besides`: their ids)."""
    rows = await db.scalars(select(AuditEvent).where(AuditEvent.entity == "job_push"))
    return [event for event in rows.all() if event.id not in besides]


async def _statuses(db, member) -> dict[str, str]:
    rows = await db.execute(
        select(JobPush.id, JobPush.status).where(JobPush.member_id == member.id)
    )
    return {str(push_id): status for push_id, status in rows.all()}


async def _as_villager(db, make_user, auth, member):
    user = await make_user(Role.villager)
    await db.execute(
        update(UserAccount).where(UserAccount.id == user.id).values(member_id=member.id)
    )
    await db.commit()
    return auth(user)


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
        rounds.append(response.json()["items"][0]["round"])
    assert rounds == [1, 1, 1, 1, 1, 2]
    progress = (
        await client.get(f"/api/v1/members/{worker.id}/push-progress", headers=coordinator)
    ).json()
    assert progress["rounds"] == 2 and progress["full_rounds"] == 1
    assert progress["jobs_pushed"] == 6 and progress["meets_policy"] is False
    listed = await client.get(f"/api/v1/members/{worker.id}/job-pushes", headers=coordinator)
    assert [p["round"] for p in listed.json()["items"]] == [2, 1, 1, 1, 1, 1]
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
    assert {p["member_id"] for p in response.json()["items"]} == {
        str(family[0].id),
        str(family[1].id),
    }
    assert all(p["round"] == 1 and p["job"]["id"] == str(job.id) for p in response.json()["items"])


async def test_pushing_the_same_job_again_answers_the_existing_pushes(
    client, coordinator, family, db
):
    (job,) = await add_jobs(db, 1)
    first = await _push(client, coordinator, job, family[0], family[1])
    assert first.status_code == 201, first.text
    assert [p["created"] for p in first.json()["items"]] == [True, True]
    events = {e.id for e in await _push_events(db)}

    again = await _push(client, coordinator, job, family[0], family[1])
    assert again.status_code == 200, again.text
    assert [p["id"] for p in again.json()["items"]] == [p["id"] for p in first.json()["items"]]
    assert [p["created"] for p in again.json()["items"]] == [False, False]
    assert [p["round"] for p in again.json()["items"]] == [1, 1]
    rows = await db.scalar(
        select(func.count()).select_from(JobPush).where(JobPush.job_id == job.id)
    )
    assert rows == 2
    assert await _push_events(db, besides=events) == []
    progress = (
        await client.get(f"/api/v1/members/{family[0].id}/push-progress", headers=coordinator)
    ).json()
    assert progress["rounds"] == 1 and progress["jobs_pushed"] == 1


async def test_a_push_to_pushed_and_new_members_creates_only_the_new(
    client, coordinator, family, db
):
    jobs = await add_jobs(db, 6)
    for job in jobs[:5]:  # fills the daughter's first round
        assert (await _push(client, coordinator, job, family[1])).status_code == 201
    earlier = (await _push(client, coordinator, jobs[5], family[0])).json()["items"][0]
    events = {e.id for e in await _push_events(db)}

    response = await _push(client, coordinator, jobs[5], family[0], family[1])
    assert response.status_code == 201, response.text
    kept, new = response.json()["items"]
    assert kept["member_id"] == str(family[0].id) and kept["created"] is False
    assert kept["id"] == earlier["id"] and kept["round"] == 1
    assert new["member_id"] == str(family[1].id) and new["created"] is True
    assert new["round"] == 2
    added = await _push_events(db, besides=events)
    assert [(e.action, str(e.entity_id)) for e in added] == [("create", new["id"])]


async def test_concurrent_identical_pushes_make_one_push_per_member(
    client, coordinator, family, db
):
    (job,) = await add_jobs(db, 1)
    answers = await asyncio.gather(
        *(_push(client, coordinator, job, family[0], family[1]) for _ in range(4))
    )
    assert all(a.status_code in (200, 201) for a in answers), [a.text for a in answers]
    rows = (
        await db.execute(select(JobPush.member_id, JobPush.id).where(JobPush.job_id == job.id))
    ).all()
    assert sorted(member_id for member_id, _ in rows) == sorted([family[0].id, family[1].id])
    ids = {str(push_id) for _, push_id in rows}
    for answer in answers:
        assert {p["id"] for p in answer.json()["items"]} == ids
    # Each push was created by exactly one of the requests, and audited once.
    created = [p["id"] for a in answers for p in a.json()["items"] if p["created"]]
    assert sorted(created) == sorted(ids)
    assert len(await _push_events(db)) == 2


async def test_villager_reading_their_pushes_marks_them_viewed(
    client, coordinator, make_user, auth, family, db
):
    jobs = await add_jobs(db, 3)
    fresh, liked, refused = [
        (await _push(client, coordinator, job, family[0])).json()["items"][0] for job in jobs
    ]
    await client.patch(
        f"/api/v1/job-pushes/{liked['id']}", json={"result": "interested"}, headers=coordinator
    )
    await client.patch(
        f"/api/v1/job-pushes/{refused['id']}",
        json={"result": "declined", "reason": "离家太远"},
        headers=coordinator,
    )
    before = await _statuses(db, family[0])
    events = {e.id for e in await _push_events(db)}

    staff = await client.get(f"/api/v1/members/{family[0].id}/job-pushes", headers=coordinator)
    assert staff.status_code == 200
    assert {p["id"]: p["status"] for p in staff.json()["items"]} == before
    assert await _statuses(db, family[0]) == before
    assert await _push_events(db, besides=events) == []

    villager = await _as_villager(db, make_user, auth, family[0])
    mine = await client.get("/api/v1/me/job-pushes", headers=villager)
    assert mine.status_code == 200, mine.text
    expected = {fresh["id"]: "viewed", liked["id"]: "interested", refused["id"]: "declined"}
    assert {p["id"]: p["status"] for p in mine.json()["items"]} == expected
    assert await _statuses(db, family[0]) == expected
    added = await _push_events(db, besides=events)
    assert [(e.action, str(e.entity_id), e.changes) for e in added] == [
        ("update", fresh["id"], {"status": {"old": "pushed", "new": "viewed"}})
    ]
    assert added[0].region_code == VILLAGE_A

    again = await client.get("/api/v1/me/job-pushes", headers=villager)
    assert {p["id"]: p["status"] for p in again.json()["items"]} == expected
    assert len(await _push_events(db, besides=events)) == 1


async def test_a_viewed_push_can_still_be_answered(
    client, coordinator, make_user, auth, family, db
):
    jobs = await add_jobs(db, 2)
    for job in jobs:
        await _push(client, coordinator, job, family[0])
    villager = await _as_villager(db, make_user, auth, family[0])
    listed = (await client.get("/api/v1/me/job-pushes", headers=villager)).json()["items"]
    assert [p["status"] for p in listed] == ["viewed", "viewed"]
    yes, no = listed
    interested = await client.post(
        f"/api/v1/me/job-pushes/{yes['id']}/response", json={"interested": True}, headers=villager
    )
    assert interested.status_code == 200 and interested.json()["status"] == "interested"
    declined = await client.post(
        f"/api/v1/me/job-pushes/{no['id']}/response", json={"interested": False}, headers=villager
    )
    assert declined.status_code == 200 and declined.json()["status"] == "declined"
    assert declined.json()["reason"] == "本人表示不感兴趣"


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
    push = (await _push(client, coordinator, job, family[0])).json()["items"][0]
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
    push = (await _push(client, coordinator, job, family[0])).json()["items"][0]
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


async def test_hire_keeps_the_months_and_income_already_recorded(
    app, client, coordinator, family, db
):
    db.add(
        MemberEmployment(
            member_id=family[0].id,
            period=current_period(),
            status="未务工",
            months=5,
            income=Decimal("3000.00"),
            source=ObservationSource.manual,
            observed_at=datetime.now(UTC),
        )
    )
    await db.commit()
    (job,) = await add_jobs(db, 1, employer="东莞某玩具厂", location_type="省内县外")
    push = (await _push(client, coordinator, job, family[0])).json()["items"][0]

    hired = await client.patch(
        f"/api/v1/job-pushes/{push['id']}", json={"result": "hired"}, headers=coordinator
    )
    assert hired.status_code == 200, hired.text
    row = await db.scalar(
        select(MemberEmployment)
        .where(MemberEmployment.member_id == family[0].id)
        .execution_options(populate_existing=True)
    )
    assert row.status == "务工" and row.employer == "东莞某玩具厂"
    assert row.months == 5 and row.income == Decimal("3000.00")
    change = await db.scalar(
        select(AuditEvent).where(
            AuditEvent.entity == "member_employment", AuditEvent.actor_role == "coordinator"
        )
    )
    assert change.action == "update" and "months" not in change.changes
    assert change.changes["status"] == {"old": "未务工", "new": "务工"}


async def test_two_hires_of_one_member_at_once(app, client, coordinator, family, db):
    """Two pushes of one member hired at once, in a month with no employment yet: both hires
    count, the month has one row, and the second hire updates the first's."""
    employers = {"东莞某玩具厂": "省外", "柳州某汽配厂": "省内县外"}
    jobs = [
        (await add_jobs(db, 1, employer=employer, location_type=where))[0]
        for employer, where in employers.items()
    ]
    pushes = [(await _push(client, coordinator, job, family[0])).json()["items"][0] for job in jobs]
    answers = await inserting_at_once(
        app,
        "member_employment",
        *(
            client.patch(
                f"/api/v1/job-pushes/{push['id']}", json={"result": "hired"}, headers=coordinator
            )
            for push in pushes
        ),
    )
    assert [a.status_code for a in answers] == [200, 200], [a.text for a in answers]
    assert await db.scalar(select(func.count()).select_from(MemberEmployment)) == 1
    events = (
        await db.scalars(select(AuditEvent).where(AuditEvent.entity == "member_employment"))
    ).all()
    (created,) = (e for e in events if e.action == "create")
    (updated,) = (e for e in events if e.action == "update")
    assert len(events) == 2
    first = created.changes["employer"]["new"]
    (second,) = set(employers) - {first}
    assert updated.changes["employer"] == {"old": first, "new": second}
    assert updated.changes["work_region"] == {"old": employers[first], "new": employers[second]}
    assert "months" not in updated.changes
    row = await db.get(MemberEmployment, (family[0].id, current_period()))
    assert row.employer == second and row.months == 0


async def test_hire_of_a_member_who_moved_away_stands_without_writing_outside_scope(
    client, coordinator, family, db, settings
):
    """The push stays in the village it was made in, so its coordinator records the hire; the
    member now lives outside the coordinator's villages, so their employment is not written."""
    (job,) = await add_jobs(db, 1, employer="东莞某玩具厂", location_type="省内县外")
    push = (await _push(client, coordinator, job, family[1])).json()["items"][0]
    new_home, _ = await make_household(db, settings, VILLAGE_B, [PersonSpec("韦新")])
    await db.execute(
        update(Member).where(Member.id == family[1].id).values(household_id=new_home.id)
    )
    await db.commit()

    hired = await client.patch(
        f"/api/v1/job-pushes/{push['id']}", json={"result": "hired"}, headers=coordinator
    )
    assert hired.status_code == 200, hired.text
    assert hired.json()["status"] == "hired"
    assert await db.get(MemberEmployment, (family[1].id, current_period())) is None
    written = select(AuditEvent).where(AuditEvent.entity == "member_employment")
    assert (await db.scalars(written)).all() == []
    # The member themselves stay out of the coordinator's reach.
    member = await client.get(f"/api/v1/members/{family[1].id}", headers=coordinator)
    assert member.status_code == 404


async def test_villager_sees_and_answers_only_their_own(
    client, coordinator, make_user, auth, family, db
):
    jobs = await add_jobs(db, 2)
    mine = (await _push(client, coordinator, jobs[0], family[0])).json()["items"][0]
    others = (await _push(client, coordinator, jobs[1], family[1])).json()["items"][0]
    villager = await _as_villager(db, make_user, auth, family[0])

    listed = await client.get("/api/v1/me/job-pushes", headers=villager)
    assert [p["id"] for p in listed.json()["items"]] == [mine["id"]]
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


async def _pages(client, url, headers, limit):
    """Every page of a list, following `next_cursor`."""
    pages, params = [], {"limit": limit}
    while True:
        response = await client.get(url, params=params, headers=headers)
        assert response.status_code == 200, response.text
        pages.append(response.json()["items"])
        if response.json()["next_cursor"] is None:
            return pages
        params = {"limit": limit, "cursor": response.json()["next_cursor"]}


async def test_a_members_pushes_come_a_page_at_a_time(client, coordinator, family, db):
    for job in await add_jobs(db, 6):
        assert (await _push(client, coordinator, job, family[0])).status_code == 201
    url = f"/api/v1/members/{family[0].id}/job-pushes"
    whole = (await client.get(url, headers=coordinator)).json()
    assert whole["next_cursor"] is None and len(whole["items"]) == 6
    pages = await _pages(client, url, coordinator, limit=4)
    assert [len(page) for page in pages] == [4, 2]
    assert [p["id"] for page in pages for p in page] == [p["id"] for p in whole["items"]]
    assert [p["round"] for page in pages for p in page] == [2, 1, 1, 1, 1, 1]
    broken = await client.get(url, params={"cursor": "not-a-cursor"}, headers=coordinator)
    assert broken.status_code == 400 and broken.json()["code"] == "invalid_cursor"


async def test_a_villager_sees_only_the_page_read(client, coordinator, make_user, auth, family, db):
    for job in await add_jobs(db, 3):
        assert (await _push(client, coordinator, job, family[0])).status_code == 201
    villager = await _as_villager(db, make_user, auth, family[0])
    events = {e.id for e in await _push_events(db)}

    first = await client.get("/api/v1/me/job-pushes", params={"limit": 2}, headers=villager)
    shown = first.json()["items"]
    assert [p["status"] for p in shown] == ["viewed", "viewed"]
    statuses = await _statuses(db, family[0])
    assert sorted(statuses.values()) == ["pushed", "viewed", "viewed"]
    assert {str(e.entity_id) for e in await _push_events(db, besides=events)} == {
        p["id"] for p in shown
    }

    rest = await client.get(
        "/api/v1/me/job-pushes",
        params={"limit": 2, "cursor": first.json()["next_cursor"]},
        headers=villager,
    )
    assert [p["status"] for p in rest.json()["items"]] == ["viewed"]
    assert rest.json()["next_cursor"] is None
    assert set((await _statuses(db, family[0])).values()) == {"viewed"}
    assert len(await _push_events(db, besides=events)) == 3


async def test_a_villager_is_told_of_a_job_pushed_to_them_once(
    client, coordinator, make_user, auth, family, db
):
    """The push writes the notice in its own transaction; a push sent again adds none."""
    villager = await _as_villager(db, make_user, auth, family[0])
    [job] = await add_jobs(db, 1)
    for _ in range(2):
        assert (await _push(client, coordinator, job, family[0])).status_code in (200, 201)
    inbox = (await client.get("/api/v1/me/notifications", headers=villager)).json()
    assert [item["event"] for item in inbox["items"]] == ["job.pushed"]
    assert inbox["items"][0]["link"] == "/me/job-pushes"
