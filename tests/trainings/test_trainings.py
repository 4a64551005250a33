"""Trainings: creation and scope, capacity with a waiting list, the roll, QR check-in,
completion."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select, update

from app.audit import service as audit
from app.audit.models import AuditEvent
from app.auth.models import Role, UserAccount
from app.core.pagination import PageRequest
from app.core.scope import Scope
from app.policy.trainings import CHECKIN_CODE_TTL_SECONDS
from app.trainings import checkin
from app.trainings.models import TrainingAttendance, TrainingEnrollment
from tests.households.factories import PersonSpec, make_household

VILLAGE_A = "450226100201"  # 大寨村, 古宜镇
VILLAGE_A2 = "450226100202"  # 龙吉村, 古宜镇
VILLAGE_B = "450226101201"  # 斗江村, 斗江镇
TOWNSHIP_A = "450226100000"
TOWNSHIP_B = "450226101000"
COUNTY = "450226000000"

START = datetime(2026, 11, 25, 1, 0, tzinfo=UTC)


def _body(region=VILLAGE_A, **overrides):
    body = {
        "title": "电工技能培训",
        "type": "职业技能",
        "region_code": region,
        "organizer": "县人社局",
        "location": "大寨村委会",
        "capacity": 2,
        "starts_at": START.isoformat(),
        "ends_at": (START + timedelta(days=1, hours=8)).isoformat(),
    }
    body.update(overrides)
    return body


@pytest.fixture
async def people(db, settings):
    _, members = await make_household(
        db,
        settings,
        VILLAGE_A,
        [
            PersonSpec("韦强"),
            PersonSpec("韦梅", relation="之女"),
            PersonSpec("韦军", relation="之子"),
        ],
    )
    return members


@pytest.fixture
async def coordinator(make_user, auth):
    return auth(await make_user(Role.coordinator, [VILLAGE_A]))


async def _create(client, headers, **overrides):
    response = await client.post("/api/v1/trainings", json=_body(**overrides), headers=headers)
    assert response.status_code == 201, response.text
    return response.json()


async def _enroll(client, headers, training, member):
    return await client.post(
        f"/api/v1/trainings/{training['id']}/enrollments",
        json={"member_id": str(member.id)},
        headers=headers,
    )


async def _villager(make_user, auth, db, member):
    user = await make_user(Role.villager)
    await db.execute(
        update(UserAccount).where(UserAccount.id == user.id).values(member_id=member.id)
    )
    await db.commit()
    return auth(user)


async def test_create_with_default_session_and_detail(client, coordinator, db):
    created = await _create(client, coordinator)
    assert created["type"] == "职业技能" and created["capacity"] == 2
    assert len(created["sessions"]) == 1
    assert created["sessions"][0]["starts_at"] == created["starts_at"]
    assert created["enrolled"] == 0 and created["waitlisted"] == 0
    detail = await client.get(f"/api/v1/trainings/{created['id']}", headers=coordinator)
    assert detail.status_code == 200
    assert detail.json() == created
    assert (
        await db.scalar(
            select(func.count()).select_from(AuditEvent).where(AuditEvent.entity == "training")
        )
        == 1
    )


async def test_create_with_sessions(client, coordinator):
    sessions = [
        {
            "starts_at": (START + timedelta(days=1)).isoformat(),
            "ends_at": (START + timedelta(days=1, hours=3)).isoformat(),
        },
        {"starts_at": START.isoformat(), "ends_at": (START + timedelta(hours=3)).isoformat()},
    ]
    created = await _create(client, coordinator, sessions=sessions)
    starts = [s["starts_at"] for s in created["sessions"]]
    assert starts == sorted(starts) and len(starts) == 2


@pytest.mark.parametrize(
    "overrides",
    [
        {"capacity": 0},
        {"type": "烹饪"},
        {"ends_at": START.isoformat()},
        {"starts_at": "2026-11-25T09:00:00"},
        {"sessions": []},
        {"sessions": [{"starts_at": "2026-12-30T01:00:00Z", "ends_at": "2026-12-30T03:00:00Z"}]},
        {"region_code": "4502"},
    ],
)
async def test_create_validation(client, coordinator, overrides):
    response = await client.post("/api/v1/trainings", json=_body(**overrides), headers=coordinator)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["code"] == "validation_failed"


async def test_create_outside_regions_is_404(client, coordinator, make_user, auth):
    response = await client.post(
        "/api/v1/trainings", json=_body(region=VILLAGE_B), headers=coordinator
    )
    assert response.status_code == 404
    assert response.json()["code"] == "region_not_found"
    unknown = await client.post(
        "/api/v1/trainings", json=_body(region="450226100299"), headers=coordinator
    )
    assert unknown.status_code == 404
    villager = auth(await make_user(Role.villager))
    assert (
        await client.post("/api/v1/trainings", json=_body(), headers=villager)
    ).status_code == 403


async def test_listing_is_scoped_and_filtered(client, coordinator, make_user, auth):
    county = auth(await make_user(Role.manager, [COUNTY]))
    township_a = auth(await make_user(Role.manager, [TOWNSHIP_A]))
    township_b = auth(await make_user(Role.manager, [TOWNSHIP_B]))
    in_a = await _create(client, coordinator)
    in_b = await _create(
        client,
        county,
        region=VILLAGE_B,
        type="创业",
        starts_at=(START + timedelta(days=10)).isoformat(),
        ends_at=(START + timedelta(days=11)).isoformat(),
    )

    async def ids(headers, **params):
        response = await client.get("/api/v1/trainings", params=params, headers=headers)
        assert response.status_code == 200, response.text
        return [t["id"] for t in response.json()["items"]]

    assert await ids(county) == [in_b["id"], in_a["id"]]
    assert await ids(township_a) == [in_a["id"]]
    assert await ids(township_b) == [in_b["id"]]
    assert await ids(coordinator) == [in_a["id"]]
    assert await ids(county, type="创业") == [in_b["id"]]
    assert await ids(county, **{"from": (START + timedelta(days=5)).isoformat()}) == [in_b["id"]]
    assert await ids(county, to=(START + timedelta(days=5)).isoformat()) == [in_a["id"]]
    page = (await client.get("/api/v1/trainings", params={"limit": 1}, headers=county)).json()
    assert [t["id"] for t in page["items"]] == [in_b["id"]]
    rest = await client.get(
        "/api/v1/trainings", params={"limit": 1, "cursor": page["next_cursor"]}, headers=county
    )
    assert [t["id"] for t in rest.json()["items"]] == [in_a["id"]]
    hidden = await client.get(f"/api/v1/trainings/{in_b['id']}", headers=township_a)
    assert hidden.status_code == 404 and hidden.json()["code"] == "training_not_found"


async def test_capacity_waitlist_and_promotion(client, coordinator, people, db):
    training = await _create(client, coordinator)
    answers = [await _enroll(client, coordinator, training, m) for m in people]
    assert [a.status_code for a in answers] == [201, 201, 201]
    assert [a.json()["status"] for a in answers] == ["enrolled", "enrolled", "waitlisted"]
    assert answers[2].json()["waitlist_position"] == 1
    detail = (await client.get(f"/api/v1/trainings/{training['id']}", headers=coordinator)).json()
    assert (detail["enrolled"], detail["waitlisted"]) == (2, 1)
    again = await _enroll(client, coordinator, training, people[0])
    assert again.status_code == 409 and again.json()["code"] == "already_enrolled"

    cancelled = await client.delete(
        f"/api/v1/trainings/{training['id']}/enrollments/{people[0].id}", headers=coordinator
    )
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["promoted_member_id"] == str(people[2].id)
    statuses = dict(
        (await db.execute(select(TrainingEnrollment.member_id, TrainingEnrollment.status))).all()
    )
    assert statuses == {people[1].id: "enrolled", people[2].id: "enrolled"}
    missing = await client.delete(
        f"/api/v1/trainings/{training['id']}/enrollments/{people[0].id}", headers=coordinator
    )
    assert missing.status_code == 404 and missing.json()["code"] == "enrollment_not_found"
    actions = (
        await db.scalars(
            select(AuditEvent.action).where(AuditEvent.entity == "training_enrollment")
        )
    ).all()
    assert sorted(actions) == ["create", "create", "create", "delete", "update"]


async def test_promotion_is_audited_in_the_promoted_members_village(
    client, make_user, auth, db, settings
):
    township = auth(await make_user(Role.manager, [TOWNSHIP_A]))
    _, first = await make_household(db, settings, VILLAGE_A, [PersonSpec("韦一")])
    _, waiting = await make_household(db, settings, VILLAGE_A2, [PersonSpec("杨二")])
    training = await _create(client, township, region=TOWNSHIP_A, capacity=1)
    assert (await _enroll(client, township, training, first[0])).json()["status"] == "enrolled"
    assert (await _enroll(client, township, training, waiting[0])).json()["status"] == (
        "waitlisted"
    )
    cancelled = await client.delete(
        f"/api/v1/trainings/{training['id']}/enrollments/{first[0].id}", headers=township
    )
    assert cancelled.json()["promoted_member_id"] == str(waiting[0].id)
    promoted_id = await db.scalar(
        select(TrainingEnrollment.id).where(TrainingEnrollment.member_id == waiting[0].id)
    )
    promotion = (
        await db.execute(
            select(AuditEvent.region_code, AuditEvent.changes).where(
                AuditEvent.entity == "training_enrollment",
                AuditEvent.entity_id == promoted_id,
                AuditEvent.action == "update",
            )
        )
    ).one()
    assert promotion.region_code == VILLAGE_A2
    assert promotion.changes == {"status": {"old": "waitlisted", "new": "enrolled"}}


async def test_concurrent_enrolments_respect_capacity(client, coordinator, db, settings):
    _, members = await make_household(
        db, settings, VILLAGE_A, [PersonSpec(f"成员{i}", relation="其他") for i in range(6)]
    )
    training = await _create(client, coordinator)
    answers = await asyncio.gather(*(_enroll(client, coordinator, training, m) for m in members))
    assert all(a.status_code == 201 for a in answers)
    assert sorted(a.json()["status"] for a in answers) == ["enrolled"] * 2 + ["waitlisted"] * 4
    positions = sorted(a.json()["waitlist_position"] or 0 for a in answers)
    assert positions == [0, 0, 1, 2, 3, 4]


async def test_member_of_another_village_is_404(client, coordinator, make_user, auth, db, settings):
    _, strangers = await make_household(db, settings, VILLAGE_B, [PersonSpec("杨一")])
    training = await _create(client, coordinator)
    response = await _enroll(client, coordinator, training, strangers[0])
    assert response.status_code == 404 and response.json()["code"] == "member_not_found"
    other = auth(await make_user(Role.coordinator, [VILLAGE_B]))
    response = await _enroll(client, other, training, strangers[0])
    assert response.status_code == 404 and response.json()["code"] == "training_not_found"


async def test_attendance_roll(client, coordinator, people, db):
    training = await _create(client, coordinator)
    session_id = training["sessions"][0]["id"]
    for member in people:
        await _enroll(client, coordinator, training, member)
    url = f"/api/v1/trainings/{training['id']}/attendance"
    body = {"session_id": session_id, "member_ids": [str(people[0].id), str(people[1].id)]}
    first = await client.post(url, json=body, headers=coordinator)
    assert first.status_code == 200, first.text
    assert {(a["member_id"], a["present"], a["source"]) for a in first.json()["items"]} == {
        (str(people[0].id), True, "roll"),
        (str(people[1].id), True, "roll"),
    }
    again = await client.post(
        url, json={**body, "member_ids": [str(people[1].id)], "present": False}, headers=coordinator
    )
    assert again.status_code == 200 and again.json()["items"][0]["present"] is False
    listed = (await client.get(url, headers=coordinator)).json()["items"]
    assert {(a["member_id"], a["present"]) for a in listed} == {
        (str(people[0].id), True),
        (str(people[1].id), False),
    }
    waitlisted = await client.post(
        url, json={**body, "member_ids": [str(people[2].id)]}, headers=coordinator
    )
    assert waitlisted.status_code == 422
    assert waitlisted.json()["code"] == "member_not_enrolled"
    wrong = await client.post(url, json={**body, "session_id": training["id"]}, headers=coordinator)
    assert wrong.status_code == 404 and wrong.json()["code"] == "session_not_found"


async def test_the_roll_marks_and_reads_only_members_of_the_callers_villages(
    client, coordinator, people, make_user, auth, db, settings
):
    # A training in the coordinator's village, where their township's manager also enrolled a
    # member from another of the township's villages.
    township = auth(await make_user(Role.manager, [TOWNSHIP_A]))
    _, (neighbour,) = await make_household(db, settings, VILLAGE_A2, [PersonSpec("杨二")])
    training = await _create(client, coordinator, capacity=5)
    session_id = training["sessions"][0]["id"]
    assert (await _enroll(client, coordinator, training, people[0])).status_code == 201
    assert (await _enroll(client, township, training, neighbour)).status_code == 201
    url = f"/api/v1/trainings/{training['id']}/attendance"
    both = {"session_id": session_id, "member_ids": [str(people[0].id), str(neighbour.id)]}
    refused = await client.post(url, json=both, headers=coordinator)
    assert refused.status_code == 404 and refused.json()["code"] == "member_not_found"
    assert str(neighbour.id) in refused.json()["detail"]
    assert await db.scalar(select(func.count()).select_from(TrainingAttendance)) == 0
    assert (await client.post(url, json=both, headers=township)).status_code == 200
    own = (await client.get(url, headers=coordinator)).json()["items"]
    assert [a["member_id"] for a in own] == [str(people[0].id)]
    everyone = (await client.get(url, headers=township)).json()["items"]
    assert {a["member_id"] for a in everyone} == {str(people[0].id), str(neighbour.id)}


async def test_roll_taken_again_audits_what_changed(
    client, coordinator, people, make_user, auth, db, clock
):
    training = await _create(client, coordinator, capacity=3)
    session_id = training["sessions"][0]["id"]
    for member in people:
        await _enroll(client, coordinator, training, member)
    url = f"/api/v1/trainings/{training['id']}/attendance"

    async def roll(members, present=True):
        body = {"session_id": session_id, "member_ids": [str(m.id) for m in members]}
        response = await client.post(url, json={**body, "present": present}, headers=coordinator)
        assert response.status_code == 200, response.text

    p0, p1, p2 = people
    await roll([p0, p1])
    code = (await _code(client, coordinator, training)).json()["code"]
    villager = await _villager(make_user, auth, db, p2)
    checked_in = await client.post("/api/v1/me/checkins", json={"code": code}, headers=villager)
    assert checked_in.status_code == 201, checked_in.text
    await roll([p0, p2], present=False)
    await roll([p1])  # as it was: nothing changes, nothing to audit

    events = (
        await db.execute(
            select(AuditEvent.entity_id, AuditEvent.action, AuditEvent.changes)
            .where(AuditEvent.entity == "training_attendance")
            .order_by(AuditEvent.occurred_at, AuditEvent.id)
        )
    ).all()
    by_member = {m.id: [(a, c) for e, a, c in events if e == m.id] for m in people}

    def created(source):
        return (
            "create",
            {
                "session_id": {"old": None, "new": session_id},
                "present": {"old": None, "new": True},
                "source": {"old": None, "new": source},
            },
        )

    assert by_member[p0.id] == [
        created("roll"),
        ("update", {"present": {"old": True, "new": False}}),
    ]
    assert by_member[p1.id] == [created("roll")]
    assert by_member[p2.id] == [
        created("checkin"),
        (
            "update",
            {
                "present": {"old": True, "new": False},
                "source": {"old": "checkin", "new": "roll"},
            },
        ),
    ]


@pytest.fixture
def clock(monkeypatch):
    moment = {"now": START + timedelta(minutes=10)}
    monkeypatch.setattr(checkin, "now", lambda: moment["now"])
    return moment


async def _code(client, headers, training, session_id=None):
    return await client.get(
        f"/api/v1/trainings/{training['id']}/checkin-code",
        params={"session_id": session_id or training["sessions"][0]["id"]},
        headers=headers,
    )


async def test_checkin_flow(client, coordinator, people, make_user, auth, db, clock):
    training = await _create(client, coordinator)
    for member in people:
        await _enroll(client, coordinator, training, member)
    issued = await _code(client, coordinator, training)
    assert issued.status_code == 200, issued.text
    code = issued.json()["code"]
    expires = datetime.fromisoformat(issued.json()["expires_at"])
    assert expires - clock["now"] <= timedelta(seconds=CHECKIN_CODE_TTL_SECONDS)

    villager = await _villager(make_user, auth, db, people[0])
    first = await client.post("/api/v1/me/checkins", json={"code": code}, headers=villager)
    assert first.status_code == 201, first.text
    assert first.json()["member_id"] == str(people[0].id)
    reused = await client.post("/api/v1/me/checkins", json={"code": code}, headers=villager)
    assert reused.status_code == 409 and reused.json()["code"] == "checkin_code_used"
    fresh = (await _code(client, coordinator, training)).json()["code"]
    twice = await client.post("/api/v1/me/checkins", json={"code": fresh}, headers=villager)
    assert twice.status_code == 409 and twice.json()["code"] == "already_checked_in"

    # Another enrolled villager may use the same code; a waitlisted one may not.
    second = await _villager(make_user, auth, db, people[1])
    assert (
        await client.post("/api/v1/me/checkins", json={"code": code}, headers=second)
    ).status_code == 201
    waiting = await _villager(make_user, auth, db, people[2])
    refused = await client.post("/api/v1/me/checkins", json={"code": code}, headers=waiting)
    assert refused.status_code == 403 and refused.json()["code"] == "not_enrolled"

    listed = (
        await client.get(f"/api/v1/trainings/{training['id']}/attendance", headers=coordinator)
    ).json()["items"]
    assert {(a["member_id"], a["source"]) for a in listed} == {
        (str(people[0].id), "checkin"),
        (str(people[1].id), "checkin"),
    }


async def _checkin_race(client, db, training, member, villager, codes):
    """Two check-ins at once; the answers' status and problem codes, the member's attendance
    rows for the session and the audit events about them."""
    answers = await asyncio.gather(
        *(client.post("/api/v1/me/checkins", json={"code": c}, headers=villager) for c in codes)
    )
    outcomes = sorted(
        (a.status_code, a.json().get("code") if a.status_code != 201 else None) for a in answers
    )
    rows = await db.scalar(
        select(func.count())
        .select_from(TrainingAttendance)
        .where(
            TrainingAttendance.session_id == training["sessions"][0]["id"],
            TrainingAttendance.member_id == member.id,
        )
    )
    events = await db.scalar(
        select(func.count())
        .select_from(AuditEvent)
        .where(AuditEvent.entity == "training_attendance", AuditEvent.entity_id == member.id)
    )
    return outcomes, rows, events


async def test_one_code_scanned_twice_at_once(
    client, coordinator, people, make_user, auth, db, clock
):
    training = await _create(client, coordinator)
    await _enroll(client, coordinator, training, people[0])
    code = (await _code(client, coordinator, training)).json()["code"]
    villager = await _villager(make_user, auth, db, people[0])
    outcomes, rows, events = await _checkin_race(
        client, db, training, people[0], villager, [code, code]
    )
    assert outcomes == [(201, None), (409, "checkin_code_used")]
    assert (rows, events) == (1, 1)


async def test_two_codes_scanned_at_once(client, coordinator, people, make_user, auth, db, clock):
    training = await _create(client, coordinator)
    await _enroll(client, coordinator, training, people[0])
    codes = [(await _code(client, coordinator, training)).json()["code"] for _ in range(2)]
    villager = await _villager(make_user, auth, db, people[0])
    outcomes, rows, events = await _checkin_race(client, db, training, people[0], villager, codes)
    assert outcomes == [(201, None), (409, "already_checked_in")]
    assert (rows, events) == (1, 1)


async def test_checkin_after_the_roll(client, coordinator, people, make_user, auth, db, clock):
    """Marked absent on the roll, a villager may check in with a code they have not used; the
    code they already used stays used."""
    training = await _create(client, coordinator)
    await _enroll(client, coordinator, training, people[0])
    villager = await _villager(make_user, auth, db, people[0])
    used = (await _code(client, coordinator, training)).json()["code"]
    first = await client.post("/api/v1/me/checkins", json={"code": used}, headers=villager)
    assert first.status_code == 201
    roll = await client.post(
        f"/api/v1/trainings/{training['id']}/attendance",
        json={
            "session_id": training["sessions"][0]["id"],
            "member_ids": [str(people[0].id)],
            "present": False,
        },
        headers=coordinator,
    )
    assert roll.status_code == 200 and roll.json()["items"][0]["present"] is False
    again = await client.post("/api/v1/me/checkins", json={"code": used}, headers=villager)
    assert again.status_code == 409 and again.json()["code"] == "checkin_code_used"
    fresh = (await _code(client, coordinator, training)).json()["code"]
    back = await client.post("/api/v1/me/checkins", json={"code": fresh}, headers=villager)
    assert back.status_code == 201, back.text
    listed = (
        await client.get(f"/api/v1/trainings/{training['id']}/attendance", headers=coordinator)
    ).json()["items"]
    assert [(a["present"], a["source"]) for a in listed] == [(True, "checkin")]


async def test_checkin_code_expires(client, coordinator, people, make_user, auth, db, clock):
    training = await _create(client, coordinator)
    await _enroll(client, coordinator, training, people[0])
    code = (await _code(client, coordinator, training)).json()["code"]
    clock["now"] += timedelta(seconds=CHECKIN_CODE_TTL_SECONDS + 1)
    villager = await _villager(make_user, auth, db, people[0])
    response = await client.post("/api/v1/me/checkins", json={"code": code}, headers=villager)
    assert response.status_code == 410
    assert response.json()["code"] == "checkin_code_expired"


async def test_tampered_and_garbage_codes(client, coordinator, people, make_user, auth, db, clock):
    training = await _create(client, coordinator)
    await _enroll(client, coordinator, training, people[0])
    code = (await _code(client, coordinator, training)).json()["code"]
    villager = await _villager(make_user, auth, db, people[0])
    payload, signature = code.split(".")
    flipped = payload[:-2] + ("A" if payload[-2] != "A" else "B") + payload[-1]
    for bad in (f"{flipped}.{signature}", "not-a-code", "a.b.c", f"{payload}.", "%%%.***"):
        response = await client.post("/api/v1/me/checkins", json={"code": bad}, headers=villager)
        assert response.status_code == 400, bad
        assert response.json()["code"] == "checkin_code_invalid"


async def test_checkin_for_a_training_not_enrolled(
    client, coordinator, people, make_user, auth, db, clock
):
    mine = await _create(client, coordinator)
    other = await _create(client, coordinator, title="创业培训", type="创业")
    await _enroll(client, coordinator, mine, people[0])
    code = (await _code(client, coordinator, other)).json()["code"]
    villager = await _villager(make_user, auth, db, people[0])
    response = await client.post("/api/v1/me/checkins", json={"code": code}, headers=villager)
    assert response.status_code == 403 and response.json()["code"] == "not_enrolled"
    staff = await client.post("/api/v1/me/checkins", json={"code": code}, headers=coordinator)
    assert staff.status_code == 403


async def test_checkin_code_only_around_the_session(client, coordinator, clock):
    training = await _create(client, coordinator)
    clock["now"] = START - timedelta(hours=2)
    early = await _code(client, coordinator, training)
    assert early.status_code == 422 and early.json()["code"] == "session_not_open"
    clock["now"] = START - timedelta(minutes=30)
    assert (await _code(client, coordinator, training)).status_code == 200
    clock["now"] = START + timedelta(days=3)
    assert (await _code(client, coordinator, training)).status_code == 422
    unknown = await _code(client, coordinator, training, session_id=training["id"])
    assert unknown.status_code == 404


async def test_completion_and_member_trainings(client, coordinator, people, make_user, auth):
    training = await _create(client, coordinator)
    for member in people:
        await _enroll(client, coordinator, training, member)
    url = f"/api/v1/trainings/{training['id']}/completions"
    done = await client.post(
        url,
        json={
            "member_id": str(people[0].id),
            "completed_on": "2026-11-26",
            "certificate_no": "ZS-001",
        },
        headers=coordinator,
    )
    assert done.status_code == 200, done.text
    assert done.json()["completed_on"] == "2026-11-26"
    waiting = await client.post(
        url,
        json={"member_id": str(people[2].id), "completed_on": "2026-11-26"},
        headers=coordinator,
    )
    assert waiting.status_code == 422 and waiting.json()["code"] == "member_not_enrolled"
    listed = await client.get(f"/api/v1/members/{people[0].id}/trainings", headers=coordinator)
    assert listed.status_code == 200
    [item] = listed.json()["items"]
    assert item["training_id"] == training["id"] and item["certificate_no"] == "ZS-001"
    assert item["status"] == "enrolled"
    other = auth(await make_user(Role.coordinator, [VILLAGE_B]))
    hidden = await client.get(f"/api/v1/members/{people[0].id}/trainings", headers=other)
    assert hidden.status_code == 404


async def test_attendance_is_audited_in_each_members_village(
    client, make_user, auth, db, settings, clock
):
    """At a township training, the roll and a check-in are audited in the village each member
    lives in, as their enrolment is: a village coordinator's scope covers their villagers'
    attendance, and only theirs."""
    township = auth(await make_user(Role.manager, [TOWNSHIP_A]))
    _, here = await make_household(db, settings, VILLAGE_A, [PersonSpec("韦一")])
    _, there = await make_household(db, settings, VILLAGE_A2, [PersonSpec("杨二")])
    training = await _create(client, township, region=TOWNSHIP_A)
    for member in (here[0], there[0]):
        assert (await _enroll(client, township, training, member)).status_code == 201
    code = (await _code(client, township, training)).json()["code"]
    villager = await _villager(make_user, auth, db, there[0])
    checked_in = await client.post("/api/v1/me/checkins", json={"code": code}, headers=villager)
    assert checked_in.status_code == 201, checked_in.text
    roll = await client.post(
        f"/api/v1/trainings/{training['id']}/attendance",
        json={
            "session_id": training["sessions"][0]["id"],
            "member_ids": [str(here[0].id), str(there[0].id)],
        },
        headers=township,
    )
    assert roll.status_code == 200, roll.text

    events = (
        await db.execute(
            select(AuditEvent.entity_id, AuditEvent.action, AuditEvent.region_code).where(
                AuditEvent.entity == "training_attendance"
            )
        )
    ).all()
    assert sorted(events, key=lambda e: (e.region_code, e.action)) == [
        (here[0].id, "create", VILLAGE_A),
        (there[0].id, "create", VILLAGE_A2),
        (there[0].id, "update", VILLAGE_A2),
    ]
    # What the audit log shows a coordinator of 龙吉村 (the log's own scoped query).
    seen, _ = await audit.list_events(
        db,
        Scope.of_regions([VILLAGE_A2]),
        audit.EventFilters(entity="training_attendance"),
        PageRequest(limit=50, after=None),
    )
    assert sorted((e.entity_id, e.action) for e in seen) == [
        (there[0].id, "create"),
        (there[0].id, "update"),
    ]


async def test_roll_checkin_and_completion_are_audited(
    client, coordinator, people, make_user, auth, db, clock
):
    training = await _create(client, coordinator)
    await _enroll(client, coordinator, training, people[0])
    await _enroll(client, coordinator, training, people[1])
    await client.post(
        f"/api/v1/trainings/{training['id']}/attendance",
        json={"session_id": training["sessions"][0]["id"], "member_ids": [str(people[1].id)]},
        headers=coordinator,
    )
    code = (await _code(client, coordinator, training)).json()["code"]
    villager = await _villager(make_user, auth, db, people[0])
    await client.post("/api/v1/me/checkins", json={"code": code}, headers=villager)
    await client.post(
        f"/api/v1/trainings/{training['id']}/completions",
        json={"member_id": str(people[0].id), "completed_on": "2026-11-26"},
        headers=coordinator,
    )
    events = (
        await db.execute(select(AuditEvent.entity, AuditEvent.region_code, AuditEvent.actor_role))
    ).all()
    assert {e for e, _, _ in events} == {"training", "training_enrollment", "training_attendance"}
    assert {r for _, r, _ in events} == {VILLAGE_A}
    assert ("training_attendance", VILLAGE_A, "villager") in events
    assert len([e for e in events if e[0] == "training_enrollment"]) == 3


async def test_attendance_and_a_members_trainings_come_a_page_at_a_time(
    client, coordinator, people
):
    sessions = [
        {"starts_at": START.isoformat(), "ends_at": (START + timedelta(hours=3)).isoformat()},
        {
            "starts_at": (START + timedelta(days=1)).isoformat(),
            "ends_at": (START + timedelta(days=1, hours=3)).isoformat(),
        },
    ]
    training = await _create(client, coordinator, capacity=3, sessions=sessions)
    later = await _create(
        client,
        coordinator,
        starts_at=(START + timedelta(days=2)).isoformat(),
        ends_at=(START + timedelta(days=3)).isoformat(),
    )
    for member in people[:2]:
        await _enroll(client, coordinator, training, member)
    await _enroll(client, coordinator, later, people[0])
    url = f"/api/v1/trainings/{training['id']}/attendance"
    for sitting in training["sessions"]:
        body = {"session_id": sitting["id"], "member_ids": [str(m.id) for m in people[:2]]}
        assert (await client.post(url, json=body, headers=coordinator)).status_code == 200

    seen, params = [], {"limit": 3}
    while True:
        page = (await client.get(url, params=params, headers=coordinator)).json()
        seen.append([(a["session_id"], a["member_id"]) for a in page["items"]])
        if page["next_cursor"] is None:
            break
        params = {"limit": 3, "cursor": page["next_cursor"]}
    by_member = sorted(str(m.id) for m in people[:2])
    expected = [(s["id"], member) for s in training["sessions"] for member in by_member]
    assert [len(page) for page in seen] == [3, 1]
    assert [row for page in seen for row in page] == expected

    mine = f"/api/v1/members/{people[0].id}/trainings"
    first = (await client.get(mine, params={"limit": 1}, headers=coordinator)).json()
    assert [t["training_id"] for t in first["items"]] == [later["id"]]
    rest = (
        await client.get(
            mine, params={"limit": 1, "cursor": first["next_cursor"]}, headers=coordinator
        )
    ).json()
    assert [t["training_id"] for t in rest["items"]] == [training["id"]]
    assert rest["next_cursor"] is None
