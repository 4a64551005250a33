"""Household visits: idempotent uploads, scope, member updates in one transaction, geofence."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import func, select, text

from app.audit.models import AuditEvent
from app.auth.models import Role
from app.households.models import MemberEmployment, MemberIntent
from app.visits.models import Visit
from tests.households.factories import PersonSpec, make_household

VILLAGE_A = "450226100201"  # 大寨村, centre 25.7921, 109.6046
VILLAGE_B = "450226101201"
NEAR = {"lat": 25.7950, "lon": 109.6080}  # a few hundred metres away
FAR = {"lat": 25.6427, "lon": 109.6338}  # 丹洲村, about 17 km away


@pytest.fixture
async def household(db, settings):
    return await make_household(
        db, settings, VILLAGE_A, [PersonSpec("韦强"), PersonSpec("韦梅", relation="之女")]
    )


def _body(household_id, **overrides):
    body = {
        "id": str(uuid.uuid4()),
        "household_id": str(household_id),
        "visited_at": "2026-11-20T10:30:00+08:00",
        "method": "in_person",
        "location": NEAR,
        "notes": "了解务工意愿",
        "member_updates": [],
    }
    body.update(overrides)
    return body


async def _count(db, model=Visit) -> int:
    return await db.scalar(select(func.count()).select_from(model))


async def test_same_visit_twice_is_one_row(client, make_user, auth, household, db):
    (home, _), headers = household, auth(await make_user(Role.coordinator, [VILLAGE_A]))
    body = _body(home.id)
    first = await client.post("/api/v1/visits", json=body, headers=headers)
    assert first.status_code == 201, first.text
    again = await client.post("/api/v1/visits", json=body, headers=headers)
    assert again.status_code == 200
    assert again.json() == first.json()
    assert await _count(db) == 1


async def test_same_id_different_body_is_409(client, make_user, auth, household, db):
    (home, _), headers = household, auth(await make_user(Role.coordinator, [VILLAGE_A]))
    body = _body(home.id)
    await client.post("/api/v1/visits", json=body, headers=headers)
    changed = await client.post(
        "/api/v1/visits", json={**body, "notes": "另一段记录"}, headers=headers
    )
    assert changed.status_code == 409
    assert changed.json()["code"] == "idempotency_conflict"
    assert await _count(db) == 1


async def test_household_outside_villages_is_404(client, make_user, auth, household, db):
    (home, _) = household
    other = auth(await make_user(Role.coordinator, [VILLAGE_B]))
    response = await client.post("/api/v1/visits", json=_body(home.id), headers=other)
    assert response.status_code == 404
    assert await _count(db) == 0


async def test_member_updates_apply_with_the_visit(client, make_user, auth, household, db):
    (home, members), headers = household, auth(await make_user(Role.coordinator, [VILLAGE_A]))
    body = _body(
        home.id,
        member_updates=[
            {
                "member_id": str(members[0].id),
                "employment": {
                    "status": "务工",
                    "region": "县内",
                    "channel": "就业帮扶车间",
                    "months": 10,
                },
            },
            {
                "member_id": str(members[1].id),
                "intent": {"intent": "外出", "wanted_job_types": ["电子厂"]},
            },
        ],
    )
    response = await client.post("/api/v1/visits", json=body, headers=headers)
    assert response.status_code == 201, response.text
    employment = await db.get(MemberEmployment, (members[0].id, "2026-11"))
    assert employment.status == "务工" and employment.source == "visit"
    intent = await db.get(MemberIntent, members[1].id)
    assert intent.intent == "外出" and intent.source == "visit"
    entities = set((await db.scalars(select(AuditEvent.entity))).all())
    assert {"visit", "member_employment", "member_intent"} <= entities


async def test_a_bad_member_update_writes_nothing(client, make_user, auth, household, db, settings):
    (home, members), headers = household, auth(await make_user(Role.coordinator, [VILLAGE_A]))
    _, strangers = await make_household(db, settings, VILLAGE_A, [PersonSpec("外人")])
    body = _body(
        home.id,
        member_updates=[
            {"member_id": str(members[0].id), "intent": {"intent": "就近"}},
            {"member_id": str(strangers[0].id), "intent": {"intent": "就近"}},
        ],
    )
    response = await client.post("/api/v1/visits", json=body, headers=headers)
    assert response.status_code == 422
    assert response.json()["code"] == "member_not_in_household"
    assert await _count(db) == 0
    assert await _count(db, MemberIntent) == 0


async def test_far_location_is_flagged_not_refused(client, make_user, auth, household):
    (home, _), headers = household, auth(await make_user(Role.coordinator, [VILLAGE_A]))
    near = (await client.post("/api/v1/visits", json=_body(home.id), headers=headers)).json()
    assert near["needs_review"] is False and near["distance_m"] < 1000
    far = await client.post("/api/v1/visits", json=_body(home.id, location=FAR), headers=headers)
    assert far.status_code == 201
    assert far.json()["needs_review"] is True
    assert 16_000 < far.json()["distance_m"] < 19_000  # 丹洲村 from 大寨村
    phone = await client.post(
        "/api/v1/visits", json=_body(home.id, method="phone", location=None), headers=headers
    )
    assert phone.json()["needs_review"] is False and phone.json()["distance_m"] is None
    flagged = await client.get("/api/v1/visits", params={"needs_review": "true"}, headers=headers)
    assert [v["id"] for v in flagged.json()["items"]] == [far.json()["id"]]


async def test_listing_is_scoped(client, make_user, auth, household, db, settings):
    (home, _) = household
    b_home, _ = await make_household(db, settings, VILLAGE_B, [PersonSpec("杨一")])
    coordinator_a = auth(await make_user(Role.coordinator, [VILLAGE_A]))
    coordinator_b = auth(await make_user(Role.coordinator, [VILLAGE_B]))
    await client.post("/api/v1/visits", json=_body(home.id), headers=coordinator_a)
    await client.post("/api/v1/visits", json=_body(b_home.id), headers=coordinator_b)
    mine = (await client.get("/api/v1/visits", headers=coordinator_a)).json()["items"]
    assert [v["household_id"] for v in mine] == [str(home.id)]
    county = auth(await make_user(Role.manager, ["450226000000"]))
    both = (await client.get("/api/v1/visits", headers=county)).json()["items"]
    assert len(both) == 2
    one = (
        await client.get("/api/v1/visits", params={"household_id": str(b_home.id)}, headers=county)
    ).json()["items"]
    assert len(one) == 1


async def test_villagers_cannot_record_visits(client, make_user, auth, household):
    (home, _) = household
    villager = auth(await make_user(Role.villager))
    response = await client.post("/api/v1/visits", json=_body(home.id), headers=villager)
    assert response.status_code == 403


@pytest.mark.parametrize(
    ("authorization", "code"),
    [
        (None, "unauthorized"),
        ("Basic Y291bnR5OndlbmdhbmctY291bnR5", "unauthorized"),
        ("Bearer not-a-token", "invalid_token"),
    ],
    ids=["no-token", "not-bearer", "bad-token"],
)
async def test_recording_needs_a_valid_bearer_token(client, household, db, authorization, code):
    (home, _) = household
    headers = {"Authorization": authorization} if authorization else {}
    response = await client.post("/api/v1/visits", json=_body(home.id), headers=headers)
    assert response.status_code == 401
    assert response.json()["code"] == code
    assert await _count(db) == 0


async def test_a_deactivated_coordinator_cannot_record(client, make_user, auth, household, db):
    (home, _) = household
    coordinator = await make_user(Role.coordinator, [VILLAGE_A])
    headers = auth(coordinator)
    await db.execute(
        text("UPDATE user_account SET is_active = false WHERE id = :id"), {"id": coordinator.id}
    )
    await db.commit()
    response = await client.post("/api/v1/visits", json=_body(home.id), headers=headers)
    assert response.status_code == 401
    assert await _count(db) == 0


async def test_the_documented_security_is_the_bearer_token(client):
    operation = (await client.get("/openapi.json")).json()["paths"]["/api/v1/visits"]["post"]
    assert operation["security"] == [{"OAuth2PasswordBearer": []}]
    assert {"401", "403"} <= set(operation["responses"])


async def test_visit_needs_an_aware_time(client, make_user, auth, household):
    (home, _), headers = household, auth(await make_user(Role.coordinator, [VILLAGE_A]))
    response = await client.post(
        "/api/v1/visits", json=_body(home.id, visited_at="2026-11-20T10:30:00"), headers=headers
    )
    assert response.status_code == 422


async def test_concurrent_retries_make_one_row(client, make_user, auth, household, db):
    import asyncio

    (home, members), headers = household, auth(await make_user(Role.coordinator, [VILLAGE_A]))
    body = _body(
        home.id, member_updates=[{"member_id": str(members[0].id), "intent": {"intent": "就近"}}]
    )
    responses = await asyncio.gather(
        *(client.post("/api/v1/visits", json=body, headers=headers) for _ in range(4))
    )
    assert sorted(r.status_code for r in responses) == [200, 200, 200, 201]
    assert await _count(db) == 1
    assert len({r.json()["id"] for r in responses}) == 1


async def test_a_member_named_twice_keeps_the_last_update(client, make_user, auth, household, db):
    (home, members), headers = household, auth(await make_user(Role.coordinator, [VILLAGE_A]))
    member = str(members[0].id)
    body = _body(
        home.id,
        member_updates=[
            {"member_id": member, "intent": {"intent": "外出"}},
            {"member_id": member, "intent": {"intent": "就近"}},
        ],
    )
    assert (await client.post("/api/v1/visits", json=body, headers=headers)).status_code == 201
    assert (await db.get(MemberIntent, members[0].id)).intent == "就近"


async def test_an_unknown_household_is_404_and_a_manager_may_visit(
    client, make_user, auth, household, db
):
    (home, _) = household
    county = auth(await make_user(Role.manager, ["450226000000"]))
    missing = await client.post("/api/v1/visits", json=_body(uuid.uuid4()), headers=county)
    assert missing.status_code == 404 and missing.json()["code"] == "household_not_found"
    assert (
        await client.post("/api/v1/visits", json=_body(home.id), headers=county)
    ).status_code == 201
    admin = auth(await make_user(Role.admin))
    assert (
        await client.post("/api/v1/visits", json=_body(home.id), headers=admin)
    ).status_code == 201


async def test_one_driver_connection_is_enough(make_user, auth, household, settings):
    """A request never holds a driver connection while waiting for another (the account read
    and the visit's statement each borrow one), so even a pool of one serves concurrent
    uploads."""
    import asyncio

    import httpx

    from app.main import create_app

    (home, _), headers = household, auth(await make_user(Role.coordinator, [VILLAGE_A]))
    tiny = create_app(settings.model_copy(update={"database_driver_pool_size": 1}))
    async with tiny.router.lifespan_context(tiny):
        transport = httpx.ASGITransport(app=tiny)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
            responses = await asyncio.wait_for(
                asyncio.gather(
                    *(
                        http.post("/api/v1/visits", json=_body(home.id), headers=headers)
                        for _ in range(4)
                    )
                ),
                timeout=10,
            )
    assert [r.status_code for r in responses] == [201] * 4


async def test_the_database_knows_every_visit_method(db):
    """The migrated CHECK constraint admits exactly the methods the API accepts."""
    import re

    from sqlalchemy import text

    from app.policy.values import VisitMethod

    definition = await db.scalar(
        text("SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conname = :name"),
        {"name": "ck_visit_method_known"},
    )
    assert set(re.findall(r"'([^']*)'", definition)) == {m.value for m in VisitMethod}


async def test_listing_times_need_an_offset(client, make_user, auth, household):
    """A county in UTC+8 cannot tell what a naive time means: `from`/`to` need an offset."""
    (home, _), headers = household, auth(await make_user(Role.coordinator, [VILLAGE_A]))
    await client.post("/api/v1/visits", json=_body(home.id), headers=headers)  # 02:30 UTC
    for name in ("from", "to"):
        response = await client.get(
            "/api/v1/visits", params={name: "2026-11-20T10:00:00"}, headers=headers
        )
        assert response.status_code == 422, name
        assert response.headers["content-type"].startswith("application/problem+json")
        problem = response.json()
        assert problem["code"] == "validation_failed"
        assert problem["errors"]

    async def listed(**params) -> int:
        response = await client.get("/api/v1/visits", params=params, headers=headers)
        assert response.status_code == 200, response.text
        return len(response.json()["items"])

    assert await listed(**{"from": "2026-11-20T10:30:00+08:00"}) == 1
    assert await listed(**{"from": "2026-11-20T02:30:01Z"}) == 0
    assert await listed(to="2026-11-20T10:30:01+08:00") == 1
    assert await listed(to="2026-11-20T02:30:00Z") == 0
