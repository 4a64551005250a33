"""Households and members through the API: scope, masking, versions, audit."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select, text

from app.audit.models import AuditEvent
from app.auth.models import Role
from app.households.models import MemberEmployment
from tests.households.factories import (
    PersonSpec,
    inserting_at_once,
    make_household,
    synthetic_id_number,
)

VILLAGE_A = "450226100201"  # 大寨村, 古宜镇
VILLAGE_B = "450226101201"  # 斗江村, 斗江镇
TOWNSHIP_A = "450226100000"


@pytest.fixture
async def two_villages(db, settings):
    a, a_members = await make_household(
        db,
        settings,
        VILLAGE_A,
        [
            PersonSpec("韦志强", phone="13812345678"),
            PersonSpec("韦小梅", relation="之女", labour_type="技能劳动力"),
        ],
    )
    b, b_members = await make_household(db, settings, VILLAGE_B, [PersonSpec("杨光明")])
    return a, a_members, b, b_members


async def _coordinator(make_user, village=VILLAGE_A):
    return await make_user(Role.coordinator, [village])


async def test_coordinator_reads_own_village_household(client, make_user, auth, two_villages):
    a, *_ = two_villages
    headers = auth(await _coordinator(make_user))
    response = await client.get(f"/api/v1/households/{a.id}", headers=headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["household_no"] == a.household_no
    assert [m["name"] for m in body["members"]] == ["韦志强", "韦小梅"]
    head = body["members"][0]
    assert head["phone"] == "138****5678"
    assert head["id_number"].startswith("450226") and "********" in head["id_number"]
    assert head["employment"] is None and head["intent"] is None


@pytest.mark.parametrize("path", ["households/{hid}", "members/{mid}"])
async def test_other_village_is_404(client, make_user, auth, two_villages, path):
    _, _, b, b_members = two_villages
    headers = auth(await _coordinator(make_user))
    url = "/api/v1/" + path.format(hid=b.id, mid=b_members[0].id)
    response = await client.get(url, headers=headers)
    assert response.status_code == 404
    assert response.json()["code"] in {"household_not_found", "member_not_found"}


async def test_writes_outside_scope_are_404(client, make_user, auth, two_villages):
    _, _, _, b_members = two_villages
    headers = auth(await _coordinator(make_user))
    member = b_members[0].id
    attempts = [
        client.patch(
            f"/api/v1/members/{member}", json={"name": "x", "version": 1}, headers=headers
        ),
        client.put(
            f"/api/v1/members/{member}/employment/2026-10",
            json={"status": "未务工"},
            headers=headers,
        ),
        client.put(f"/api/v1/members/{member}/intent", json={"intent": "外出"}, headers=headers),
    ]
    for attempt in attempts:
        response = await attempt
        assert response.status_code == 404, response.text


async def test_list_is_scoped_and_filtered(client, make_user, auth, two_villages, db, settings):
    await make_household(db, settings, VILLAGE_A, [PersonSpec("李四")], category="一般农户")
    township = auth(await make_user(Role.manager, [TOWNSHIP_A]))
    listed = (await client.get("/api/v1/households", headers=township)).json()
    assert {h["village_code"] for h in listed["items"]} == {VILLAGE_A}
    assert len(listed["items"]) == 2
    lifted = (
        await client.get("/api/v1/households", params={"category": "脱贫户"}, headers=township)
    ).json()
    assert [h["head_name"] for h in lifted["items"]] == ["韦志强"]
    assert lifted["items"][0]["member_count"] == 2
    by_name = (await client.get("/api/v1/households", params={"q": "李"}, headers=township)).json()
    assert [h["head_name"] for h in by_name["items"]] == ["李四"]
    skilled = (
        await client.get(
            "/api/v1/households", params={"labour_type": "技能劳动力"}, headers=township
        )
    ).json()
    assert [h["head_name"] for h in skilled["items"]] == ["韦志强"]
    county = auth(await make_user(Role.manager, ["450226000000"]))
    everything = (await client.get("/api/v1/households", headers=county)).json()
    assert len(everything["items"]) == 3
    only_b = (
        await client.get("/api/v1/households", params={"village": VILLAGE_B}, headers=county)
    ).json()
    assert [h["village_code"] for h in only_b["items"]] == [VILLAGE_B]


async def test_list_pages_with_cursor(client, make_user, auth, db, settings):
    for _ in range(5):
        await make_household(db, settings, VILLAGE_A)
    headers = auth(await make_user(Role.manager, [TOWNSHIP_A]))
    seen, cursor = [], None
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = (await client.get("/api/v1/households", params=params, headers=headers)).json()
        seen += [h["household_no"] for h in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert len(seen) == 5 and seen == sorted(seen)


async def test_employment_filter_uses_the_month(client, make_user, auth, two_villages):
    a, a_members, *_ = two_villages
    coordinator = auth(await _coordinator(make_user))
    await client.put(
        f"/api/v1/members/{a_members[1].id}/employment/2026-10",
        json={"status": "务工", "region": "省外", "channel": "外出务工", "months": 10},
        headers=coordinator,
    )
    working = (
        await client.get(
            "/api/v1/households",
            params={"employment_status": "务工", "period": "2026-10"},
            headers=coordinator,
        )
    ).json()
    assert [h["id"] for h in working["items"]] == [str(a.id)]
    other_month = (
        await client.get(
            "/api/v1/households",
            params={"employment_status": "务工", "period": "2026-09"},
            headers=coordinator,
        )
    ).json()
    assert other_month["items"] == []


async def test_villager_sees_only_own_household(client, make_user, auth, two_villages, db):
    a, a_members, b, _ = two_villages
    villager = await make_user(Role.villager)
    await db.execute(
        text("UPDATE user_account SET member_id = :m WHERE id = :u"),
        {"m": a_members[1].id, "u": villager.id},
    )
    await db.commit()
    headers = auth(villager)
    assert (await client.get(f"/api/v1/households/{a.id}", headers=headers)).status_code == 200
    assert (await client.get(f"/api/v1/households/{b.id}", headers=headers)).status_code == 404
    listed = (await client.get("/api/v1/households", headers=headers)).json()
    assert [h["id"] for h in listed["items"]] == [str(a.id)]
    # Villagers read; they do not correct the registry.
    patch = await client.patch(
        f"/api/v1/members/{a_members[1].id}", json={"name": "x", "version": 1}, headers=headers
    )
    assert patch.status_code == 403


async def test_unbound_villager_sees_nothing(client, make_user, auth, two_villages):
    a, *_ = two_villages
    headers = auth(await make_user(Role.villager))
    assert (await client.get(f"/api/v1/households/{a.id}", headers=headers)).status_code == 404
    assert (await client.get("/api/v1/households", headers=headers)).json()["items"] == []


async def test_patch_with_if_match_and_stale_version(client, make_user, auth, two_villages, db):
    _, a_members, *_ = two_villages
    member_id = a_members[0].id
    headers = auth(await _coordinator(make_user))
    read = await client.get(f"/api/v1/members/{member_id}", headers=headers)
    etag = read.headers["etag"]
    assert etag == '"1"'
    changed = await client.patch(
        f"/api/v1/members/{member_id}",
        json={"labour_type": "技能劳动力", "skills": ["电工"]},
        headers={**headers, "If-Match": etag},
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["version"] == 2
    assert changed.headers["etag"] == '"2"'
    stale = await client.patch(
        f"/api/v1/members/{member_id}",
        json={"labour_type": "弱劳动力或半劳动力"},
        headers={**headers, "If-Match": etag},
    )
    assert stale.status_code == 412
    assert stale.json()["code"] == "stale_version"
    stale_body = await client.patch(
        f"/api/v1/members/{member_id}", json={"name": "改名", "version": 1}, headers=headers
    )
    assert stale_body.status_code == 412
    current = (await client.get(f"/api/v1/members/{member_id}", headers=headers)).json()
    assert current["labour_type"] == "技能劳动力"
    assert current["name"] == "韦志强"
    assert current["version"] == 2


async def test_patch_without_version_is_428(client, make_user, auth, two_villages):
    _, a_members, *_ = two_villages
    headers = auth(await _coordinator(make_user))
    response = await client.patch(
        f"/api/v1/members/{a_members[0].id}", json={"name": "x"}, headers=headers
    )
    assert response.status_code == 428
    assert response.json()["code"] == "precondition_required"


async def test_patch_audits_fields_but_not_personal_values(
    client, make_user, auth, two_villages, db
):
    _, a_members, *_ = two_villages
    coordinator = await _coordinator(make_user)
    member_id = a_members[0].id
    response = await client.patch(
        f"/api/v1/members/{member_id}",
        json={"phone": "13900001111", "skills": ["焊工"], "version": 1},
        headers={**auth(coordinator), "X-Request-ID": "req-audit-1"},
    )
    assert response.status_code == 200
    assert response.json()["phone"] == "139****1111"
    event = await db.scalar(select(AuditEvent).where(AuditEvent.entity_id == member_id))
    assert event.action == "update"
    assert event.actor_id == coordinator.id
    assert event.actor_role == "coordinator"
    assert event.region_code == VILLAGE_A
    assert event.request_id == "req-audit-1"
    assert event.client_address == "203.0.113.7"
    assert set(event.changed_fields) == {"phone", "skills"}
    assert event.changes == {"skills": {"old": [], "new": ["焊工"]}}
    raw = await db.scalar(text("SELECT changes::text || changed_fields::text FROM audit_event"))
    assert "13900001111" not in raw and "13812345678" not in raw


async def test_employment_and_intent_writes(client, make_user, auth, two_villages, db):
    _, a_members, *_ = two_villages
    headers = auth(await _coordinator(make_user))
    member_id = a_members[1].id
    put = await client.put(
        f"/api/v1/members/{member_id}/employment/2026-11",
        json={
            "status": "务工",
            "region": "县内",
            "channel": "就业帮扶车间",
            "employer": "三江茶厂",
            "months": 11,
            "income": 2800,
        },
        headers=headers,
    )
    assert put.status_code == 200, put.text
    assert put.json()["source"] == "manual"
    again = await client.put(
        f"/api/v1/members/{member_id}/employment/2026-11",
        json={"status": "未务工"},
        headers=headers,
    )
    assert again.json()["status"] == "未务工"
    intent = await client.put(
        f"/api/v1/members/{member_id}/intent",
        json={"intent": "无意愿", "reason": "照顾老人"},
        headers=headers,
    )
    assert intent.status_code == 200
    member = (await client.get(f"/api/v1/members/{member_id}", headers=headers)).json()
    assert member["employment"]["period"] == "2026-11"
    assert member["employment"]["status"] == "未务工"
    assert member["intent"]["reason"] == "照顾老人"
    actions = (
        await db.execute(
            select(AuditEvent.entity, AuditEvent.action)
            .where(AuditEvent.entity_id == member_id)
            .order_by(AuditEvent.occurred_at, AuditEvent.entity)
        )
    ).all()
    assert sorted(actions) == sorted(
        [
            ("member_employment", "create"),
            ("member_employment", "update"),
            ("member_intent", "create"),
        ]
    )


async def test_two_first_writes_of_a_month_at_once(app, client, make_user, auth, two_villages, db):
    """Two PUTs of a month nobody has written yet, both past their read of the (missing) row
    before either inserts: both answer 200, one row, and the second is an update whose old
    values are the first's."""
    _, a_members, *_ = two_villages
    headers = auth(await _coordinator(make_user))
    member_id = a_members[1].id
    url = f"/api/v1/members/{member_id}/employment/2026-12"
    bodies = [
        {"region": "县内", "channel": "就业帮扶车间", "employer": "三江茶厂", "months": 3},
        {"region": "省外", "channel": "外出务工", "employer": "东莞某玩具厂", "months": 5},
    ]
    for body, income in zip(bodies, ("2800.00", "4100.00"), strict=True):
        body.update(status="务工", income=income)
    answers = await inserting_at_once(
        app,
        "member_employment",
        *(client.put(url, json=body, headers=headers) for body in bodies),
    )
    assert [a.status_code for a in answers] == [200, 200], [a.text for a in answers]

    assert await db.scalar(select(func.count()).select_from(MemberEmployment)) == 1
    events = (
        await db.scalars(select(AuditEvent).where(AuditEvent.entity == "member_employment"))
    ).all()
    assert sorted(e.action for e in events) == ["create", "update"]
    (created,) = (e for e in events if e.action == "create")
    (updated,) = (e for e in events if e.action == "update")

    def stored(body):
        return {"work_region" if k == "region" else k: v for k, v in body.items()}

    first, second = sorted(
        map(stored, bodies), key=lambda b: b["employer"] != created.changes["employer"]["new"]
    )
    assert created.changes == {
        "period": {"old": None, "new": "2026-12"},
        **{k: {"old": None, "new": v} for k, v in first.items()},
        "source": {"old": None, "new": "manual"},
    }
    assert updated.changes == {
        k: {"old": first[k], "new": second[k]} for k in first if first[k] != second[k]
    }
    assert {created.region_code, updated.region_code} == {VILLAGE_A}
    member = (await client.get(f"/api/v1/members/{member_id}", headers=headers)).json()
    assert member["employment"]["employer"] == second["employer"]


@pytest.mark.parametrize(
    "body",
    [
        {"status": "务工"},  # working needs a region
        {"status": "未务工", "region": "省外"},
        {"status": "在家"},
        {"status": "务工", "region": "省外", "months": 13},
    ],
)
async def test_employment_validation(client, make_user, auth, two_villages, body):
    _, a_members, *_ = two_villages
    headers = auth(await _coordinator(make_user))
    response = await client.put(
        f"/api/v1/members/{a_members[0].id}/employment/2026-11", json=body, headers=headers
    )
    assert response.status_code == 422
    assert response.json()["code"] == "validation_failed"


async def test_bad_period_and_no_intent_without_reason(client, make_user, auth, two_villages):
    _, a_members, *_ = two_villages
    headers = auth(await _coordinator(make_user))
    member = a_members[0].id
    bad_period = await client.put(
        f"/api/v1/members/{member}/employment/2026-13", json={"status": "未务工"}, headers=headers
    )
    assert bad_period.status_code == 422
    no_reason = await client.put(
        f"/api/v1/members/{member}/intent", json={"intent": "无意愿"}, headers=headers
    )
    assert no_reason.status_code == 422


async def test_lookup_by_id_number(client, make_user, auth, db, settings):
    number = synthetic_id_number("19900101")
    _, members = await make_household(
        db, settings, VILLAGE_A, [PersonSpec("覃一", id_number=number)]
    )
    coordinator = auth(await _coordinator(make_user))
    found = await client.post(
        "/api/v1/members/lookup", json={"id_number": number.lower() + " "}, headers=coordinator
    )
    assert found.status_code == 200, found.text
    assert found.json()["id"] == str(members[0].id)
    assert number not in found.text
    other = auth(await _coordinator(make_user, VILLAGE_B))
    hidden = await client.post("/api/v1/members/lookup", json={"id_number": number}, headers=other)
    assert hidden.status_code == 404
    invalid = await client.post(
        "/api/v1/members/lookup", json={"id_number": "4.50226E+17"}, headers=coordinator
    )
    assert invalid.status_code == 422
    assert invalid.json()["code"] == "invalid_id_number"


async def test_reveal_needs_manager_and_is_audited(client, make_user, auth, db, settings):
    number = synthetic_id_number("19780203")
    _, members = await make_household(
        db, settings, VILLAGE_A, [PersonSpec("覃二", id_number=number)]
    )
    url = f"/api/v1/members/{members[0].id}/id-number/reveal"
    coordinator = auth(await _coordinator(make_user))
    assert (
        await client.post(url, json={"reason": "核对身份信息"}, headers=coordinator)
    ).status_code == 403
    manager = await make_user(Role.manager, [TOWNSHIP_A])
    revealed = await client.post(url, json={"reason": "核对医保信息"}, headers=auth(manager))
    assert revealed.status_code == 200
    assert revealed.json()["id_number"] == number
    event = await db.scalar(select(AuditEvent).where(AuditEvent.action == "reveal"))
    assert event.actor_id == manager.id
    assert event.reason == "核对医保信息"
    assert event.changed_fields == ["id_number"]
    assert number not in str(event.changes)
    other_township = auth(await make_user(Role.manager, ["450226101000"]))
    assert (
        await client.post(url, json={"reason": "核对医保信息"}, headers=other_township)
    ).status_code == 404
    assert (await client.post(url, json={}, headers=auth(manager))).status_code == 422


async def test_no_plaintext_personal_data_in_the_database(client, db, settings):
    number = synthetic_id_number("19660708")
    await make_household(
        db, settings, VILLAGE_A, [PersonSpec("覃三", id_number=number, phone="13677778888")]
    )
    rows = (
        await db.execute(
            text(
                "SELECT encode(id_number_cipher, 'escape'), encode(id_number_index, 'hex'),"
                " encode(phone_cipher, 'escape'), encode(phone_index, 'hex') FROM member"
            )
        )
    ).all()
    dump = " ".join(str(value) for row in rows for value in row)
    assert number not in dump and number[:17] not in dump
    assert "13677778888" not in dump
    everything = await db.scalar(text("SELECT string_agg(m::text, ' ') FROM member m"))
    assert number not in everything and "13677778888" not in everything


async def test_audit_log_is_append_only(db, make_user, client, auth, two_villages):
    _, a_members, *_ = two_villages
    headers = auth(await _coordinator(make_user))
    await client.put(
        f"/api/v1/members/{a_members[0].id}/intent", json={"intent": "外出"}, headers=headers
    )
    from sqlalchemy.exc import DBAPIError

    with pytest.raises(DBAPIError):
        await db.execute(text("UPDATE audit_event SET reason = 'tampered'"))
    await db.rollback()
    with pytest.raises(DBAPIError):
        await db.execute(text("DELETE FROM audit_event"))
    await db.rollback()


async def test_audit_events_readable_by_managers_in_scope(client, make_user, auth, two_villages):
    _, a_members, _, b_members = two_villages
    coordinator_a = auth(await _coordinator(make_user))
    coordinator_b = auth(await _coordinator(make_user, VILLAGE_B))
    await client.put(
        f"/api/v1/members/{a_members[0].id}/intent", json={"intent": "外出"}, headers=coordinator_a
    )
    await client.put(
        f"/api/v1/members/{b_members[0].id}/intent", json={"intent": "就近"}, headers=coordinator_b
    )
    township = auth(await make_user(Role.manager, [TOWNSHIP_A]))
    events = (await client.get("/api/v1/audit-events", headers=township)).json()["items"]
    assert [e["entity_id"] for e in events] == [str(a_members[0].id)]
    county = auth(await make_user(Role.manager, ["450226000000"]))
    both = (await client.get("/api/v1/audit-events", headers=county)).json()["items"]
    assert len(both) == 2
    filtered = (
        await client.get(
            "/api/v1/audit-events",
            params={"entity": "member_intent", "id": str(b_members[0].id)},
            headers=county,
        )
    ).json()["items"]
    assert len(filtered) == 1
    assert (await client.get("/api/v1/audit-events", headers=coordinator_a)).status_code == 403


async def test_audit_cursor_pages_and_bad_cursor(client, make_user, auth, two_villages):
    _, a_members, *_ = two_villages
    coordinator = auth(await _coordinator(make_user))
    for intent in ("外出", "就近", "外出"):
        await client.put(
            f"/api/v1/members/{a_members[0].id}/intent",
            json={"intent": intent},
            headers=coordinator,
        )
    county = auth(await make_user(Role.manager, ["450226000000"]))
    first = (await client.get("/api/v1/audit-events?limit=2", headers=county)).json()
    assert len(first["items"]) == 2 and first["next_cursor"]
    second = (
        await client.get(
            "/api/v1/audit-events",
            params={"limit": 2, "cursor": first["next_cursor"]},
            headers=county,
        )
    ).json()
    assert len(second["items"]) == 1 and second["next_cursor"] is None
    bad = await client.get("/api/v1/audit-events?cursor=WyJ4Il0", headers=county)
    assert bad.status_code == 400


async def test_no_response_carries_full_personal_data(client, make_user, auth, db, settings):
    number, phone = synthetic_id_number("19880808"), "13766665555"
    household, members = await make_household(
        db, settings, VILLAGE_A, [PersonSpec("黄六", id_number=number, phone=phone)]
    )
    member = members[0].id
    headers = auth(await make_user(Role.manager, [TOWNSHIP_A]))
    responses = [
        await client.get("/api/v1/households", headers=headers),
        await client.get(f"/api/v1/households/{household.id}", headers=headers),
        await client.get(f"/api/v1/members/{member}", headers=headers),
        await client.post("/api/v1/members/lookup", json={"id_number": number}, headers=headers),
        await client.patch(
            f"/api/v1/members/{member}", json={"skills": ["厨师"], "version": 1}, headers=headers
        ),
        await client.put(
            f"/api/v1/members/{member}/intent", json={"intent": "就近"}, headers=headers
        ),
        await client.get("/api/v1/audit-events", headers=headers),
    ]
    for response in responses:
        assert response.status_code == 200, response.text
        assert number not in response.text and number[:14] not in response.text
        assert phone not in response.text
