"""Help requests: filing (idempotent, routed), the lifecycle and its thread, audit, scope,
ratings, county settings, and what waits for staff."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update

from app.audit.models import AuditEvent
from app.auth.models import Role, UserAccount
from app.help_requests.models import HelpRequest
from tests.help_requests.conftest import (
    COUNTY,
    NEXT_VILLAGE,
    OTHER_TOWNSHIP,
    TOWNSHIP,
    VILLAGE,
    bind_villager,
    filing,
)
from tests.households.factories import PersonSpec, make_household

API = "/api/v1/help-requests"


async def _file(client, headers, **overrides):
    response = await client.post(API, json=filing(**overrides), headers=headers)
    assert response.status_code == 201, response.text
    return response.json()


async def test_a_villager_files_and_it_goes_to_the_village_coordinators(client, people, outbox):
    body = filing()
    response = await client.post(API, json=body, headers=people.villager)
    assert response.status_code == 201, response.text
    made = response.json()
    assert made["member_id"] == str(people.member_id)
    assert made["member_name"] == "韦强"
    assert made["village_code"] == VILLAGE
    assert made["routed_to"] == VILLAGE
    assert made["status"] == "submitted"
    assert made["category"] == "找工作"
    assert made["contact"] == {"method": "phone", "note": "下午三点后"}
    assert made["deadline"]["kind"] == "response"
    assert made["deadline"]["state"] == "on_time"
    assert outbox.events("help_request.submitted") == [[people.coordinator_id]]


async def test_a_village_without_a_coordinator_routes_to_the_township(
    client, db, settings, make_user, auth, people, outbox
):
    _, (member,) = await make_household(db, settings, NEXT_VILLAGE, [PersonSpec("杨一")])
    # An inactive coordinator does not count; nor does one of another village.
    gone = await make_user(Role.coordinator, [NEXT_VILLAGE])
    await db.execute(update(UserAccount).where(UserAccount.id == gone.id).values(is_active=False))
    await db.commit()
    made = await _file(client, people.county_manager, member_id=str(member.id))
    assert made["routed_to"] == TOWNSHIP
    assert outbox.events("help_request.submitted") == [[people.township_manager_id]]
    # The township's managers accept it; the coordinator of the next village never sees it.
    other = auth(await make_user(Role.coordinator, [VILLAGE]))
    assert (await client.get(f"{API}/{made['id']}", headers=other)).status_code == 404
    accepted = await client.post(f"{API}/{made['id']}/accept", headers=people.township_manager)
    assert accepted.status_code == 200, accepted.text


async def test_filing_is_idempotent_on_the_phones_id(client, people, db):
    body = filing()
    first = await client.post(API, json=body, headers=people.villager)
    again = await client.post(API, json=body, headers=people.villager)
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["id"] == first.json()["id"]
    changed = await client.post(
        API, json={**body, "description": "换了说法"}, headers=people.villager
    )
    assert changed.status_code == 409
    assert changed.json()["code"] == "idempotency_conflict"
    count = await db.scalar(select(HelpRequest.id).where(HelpRequest.id == uuid.UUID(body["id"])))
    assert count is not None
    rows = (await db.scalars(select(HelpRequest))).all()
    assert len(rows) == 1


async def test_a_coordinator_files_on_a_villagers_behalf_within_their_villages(
    client, db, settings, people
):
    # Staff never ask for themselves: without a member it is refused for their role.
    missing = await client.post(API, json=filing(), headers=people.coordinator)
    assert missing.status_code == 403 and missing.json()["code"] == "member_required"
    made = await _file(client, people.coordinator, member_id=str(people.member_id))
    assert made["filed_by"] != str(people.villager_id)
    _, (stranger,) = await make_household(db, settings, NEXT_VILLAGE, [PersonSpec("杨二")])
    outside = await client.post(
        API, json=filing(member_id=str(stranger.id)), headers=people.coordinator
    )
    assert outside.status_code == 404
    # A villager may file only for themselves.
    for_another = await client.post(
        API, json=filing(member_id=str(stranger.id)), headers=people.villager
    )
    assert for_another.status_code == 404


async def test_an_unbound_villager_cannot_file(client, make_user, auth, people):
    unbound = auth(await make_user(Role.villager))
    response = await client.post(API, json=filing(), headers=unbound)
    assert response.status_code == 403
    assert response.json()["code"] == "not_bound_to_member"


async def test_the_lifecycle_its_thread_and_its_audit(client, db, people, outbox):
    made = await _file(client, people.villager)
    url = f"{API}/{made['id']}"
    # Staff must accept before they reply.
    early = await client.post(
        f"{url}/respond", json={"message": "你好"}, headers=people.coordinator
    )
    assert early.status_code == 409
    assert early.json()["code"] == "illegal_transition"
    accepted = await client.post(f"{url}/accept", headers=people.coordinator)
    assert accepted.status_code == 200
    assert accepted.json()["status"] == "accepted"
    assert accepted.json()["accepted_by"] == str(people.coordinator_id)
    # No deadline runs for an accepted request other than training.
    assert accepted.json()["deadline"] is None
    assert (await client.post(f"{url}/accept", headers=people.coordinator)).status_code == 409
    reply = await client.post(
        f"{url}/respond", json={"message": "县城有个超市招理货员"}, headers=people.coordinator
    )
    assert reply.json()["status"] == "in_progress"
    villager_reply = await client.post(
        f"{url}/respond", json={"message": "好的，我想去看看"}, headers=people.villager
    )
    assert villager_reply.status_code == 200
    assert villager_reply.json()["status"] == "in_progress"
    # Only the villager rates, and only once resolved.
    early_rating = await client.post(f"{url}/rating", json={"score": 5}, headers=people.villager)
    assert early_rating.status_code == 409
    staff_rating = await client.post(f"{url}/rating", json={"score": 5}, headers=people.coordinator)
    assert staff_rating.status_code == 403
    resolved = await client.post(
        f"{url}/resolve", json={"summary": "已到超市上班"}, headers=people.coordinator
    )
    assert resolved.json()["status"] == "resolved"
    withdrawn = await client.post(f"{url}/withdraw", headers=people.villager)
    assert withdrawn.status_code == 409
    bad_score = await client.post(f"{url}/rating", json={"score": 6}, headers=people.villager)
    assert bad_score.status_code == 422
    rated = await client.post(
        f"{url}/rating", json={"score": 4, "comment": "很及时"}, headers=people.villager
    )
    assert rated.status_code == 200
    assert rated.json()["status"] == "rated"
    assert rated.json()["rating"]["score"] == 4
    again = await client.post(f"{url}/rating", json={"score": 1}, headers=people.villager)
    assert again.status_code == 409
    closed = await client.post(f"{url}/respond", json={"message": "?"}, headers=people.villager)
    assert closed.status_code == 409

    # Both sides read the same thread: every step, by whom, and every message.
    for headers in (people.villager, people.coordinator):
        detail = (await client.get(url, headers=headers)).json()
        thread = [(e["kind"], e["actor_role"], e["message"]) for e in detail["events"]]
        assert thread == [
            ("submitted", "villager", made["description"]),
            ("accepted", "coordinator", ""),
            ("replied", "coordinator", "县城有个超市招理货员"),
            ("replied", "villager", "好的，我想去看看"),
            ("resolved", "coordinator", "已到超市上班"),
            ("rated", "villager", "很及时"),
        ]
        assert detail["events"][0]["actor_name"] == "韦强"
    audited = (
        await db.execute(
            select(AuditEvent.action, AuditEvent.actor_id, AuditEvent.changes)
            .where(AuditEvent.entity == "help_request")
            .order_by(AuditEvent.occurred_at)
        )
    ).all()
    assert [a for a, _, _ in audited] == [
        "create", "accepted", "replied", "replied", "resolved", "rated",
    ]  # fmt: skip
    assert audited[1][1] == people.coordinator_id
    assert audited[1][2]["status"] == {"old": "submitted", "new": "accepted"}
    assert audited[5][2]["rating_score"] == {"old": None, "new": 4}
    assert outbox.events("help_request.accepted") == [[people.villager_id]]
    assert outbox.events("help_request.replied") == [
        [people.villager_id],
        [people.coordinator_id],
    ]


async def test_withdrawal_and_referral(client, people, make_user, auth):
    made = await _file(client, people.villager)
    url = f"{API}/{made['id']}"
    # Managers do not refer; coordinators hand it to the township.
    by_manager = await client.post(
        f"{url}/refer", json={"reason": "需乡镇协调"}, headers=people.county_manager
    )
    assert by_manager.status_code == 403
    referred = await client.post(
        f"{url}/refer", json={"reason": "涉及欠薪，需乡镇劳动保障所处理"},
        headers=people.coordinator,
    )  # fmt: skip
    assert referred.status_code == 200
    assert referred.json()["status"] == "referred"
    assert referred.json()["routed_to"] == TOWNSHIP
    assert referred.json()["deadline"]["kind"] == "referral"
    # The coordinator no longer accepts it; the township does.
    assert (await client.post(f"{url}/accept", headers=people.coordinator)).status_code == 409
    assert (await client.post(f"{url}/accept", headers=people.township_manager)).status_code == 200
    withdrawn = await client.post(f"{url}/withdraw", headers=people.villager)
    assert withdrawn.json()["status"] == "withdrawn"
    assert withdrawn.json()["deadline"] is None
    assert (await client.post(f"{url}/withdraw", headers=people.villager)).status_code == 409


async def test_nobody_outside_reaches_a_request(client, db, settings, make_user, auth, people):
    made = await _file(client, people.villager)
    url = f"{API}/{made['id']}"
    _, (neighbour,) = await make_household(db, settings, VILLAGE, [PersonSpec("杨三")])
    outsiders = [
        auth(await make_user(Role.coordinator, [NEXT_VILLAGE])),
        auth(await make_user(Role.manager, [OTHER_TOWNSHIP])),
        auth(await bind_villager(db, make_user, neighbour.id)),
    ]
    for headers in outsiders:
        assert (await client.get(url, headers=headers)).status_code == 404
        reply = await client.post(f"{url}/respond", json={"message": "x"}, headers=headers)
        assert reply.status_code == 404
        listed = (await client.get(API, headers=headers)).json()
        assert listed["items"] == []
    for headers in outsiders[:2]:
        assert (await client.post(f"{url}/accept", headers=headers)).status_code == 404
    # The county's manager and the villager see it in their lists.
    for headers in (people.county_manager, people.villager):
        listed = (await client.get(API, headers=headers, params={"status": "submitted"})).json()
        assert [r["id"] for r in listed["items"]] == [made["id"]]
    none = await client.get(API, headers=people.villager, params={"category": "创业"})
    assert none.json()["items"] == []


async def test_county_settings_set_the_first_response_time(client, db, people, make_user, auth):
    default = await client.get(f"{API}/settings", headers=people.county_manager)
    assert default.json()["first_response_hours"] == 24
    refused = await client.put(
        f"{API}/settings", json={"first_response_hours": 8}, headers=people.township_manager
    )
    assert refused.status_code == 403
    assert (await client.get(f"{API}/settings", headers=people.coordinator)).status_code == 403
    changed = await client.put(
        f"{API}/settings", json={"first_response_hours": 8}, headers=people.county_manager
    )
    assert changed.status_code == 200
    assert changed.json() == {
        **changed.json(), "county_code": COUNTY, "first_response_hours": 8,
    }  # fmt: skip
    # Another county (one the demo regions lack, and one outside the caller's) is not found.
    elsewhere = await client.get(
        f"{API}/settings", params={"county_code": "450224000000"}, headers=people.county_manager
    )
    assert elsewhere.status_code == 404
    made = await _file(client, people.villager)
    due = made["deadline"]
    created = datetime.fromisoformat(made["created_at"])
    assert datetime.fromisoformat(due["due_at"]) - created == timedelta(hours=8)
    assert datetime.fromisoformat(due["due_soon_at"]) - created == timedelta(hours=6)
    audited = await db.scalar(
        select(AuditEvent.changes).where(AuditEvent.entity == "help_request_setting")
    )
    assert audited == {"first_response_hours": {"old": None, "new": 8}}


async def test_my_tasks_overdue_first_then_by_nearest_deadline(client, db, people):
    late = await _file(client, people.villager)
    soon = await _file(client, people.villager)
    later = await _file(client, people.villager)
    undated = await _file(client, people.villager)
    done = await _file(client, people.villager)
    await client.post(f"{API}/{undated['id']}/accept", headers=people.coordinator)
    await client.post(f"{API}/{done['id']}/accept", headers=people.coordinator)
    await client.post(
        f"{API}/{done['id']}/resolve", json={"summary": "已办"}, headers=people.coordinator
    )
    now = datetime.now(UTC)
    marks = {
        late["id"]: (now - timedelta(hours=8), now - timedelta(hours=2)),  # overdue
        soon["id"]: (now - timedelta(hours=1), now + timedelta(hours=2)),  # due soon
    }
    for request_id, (due_soon_at, due_at) in marks.items():
        await db.execute(
            update(HelpRequest)
            .where(HelpRequest.id == uuid.UUID(request_id))
            .values(due_soon_at=due_soon_at, due_at=due_at, county_at=due_at + timedelta(1))
        )
    await db.commit()
    page = (await client.get("/api/v1/me/tasks", headers=people.coordinator)).json()
    ids = [t["help_request"]["id"] for t in page["items"]]
    assert ids == [late["id"], soon["id"], later["id"], undated["id"]]
    assert [(t["overdue"], t["due_soon"]) for t in page["items"]] == [
        (True, False), (False, True), (False, False), (False, False),
    ]  # fmt: skip
    # Paginated: two at a time gives the same order.
    first = (
        await client.get("/api/v1/me/tasks", params={"limit": 2}, headers=people.coordinator)
    ).json()
    second = (
        await client.get(
            "/api/v1/me/tasks",
            params={"limit": 2, "cursor": first["next_cursor"]},
            headers=people.coordinator,
        )
    ).json()
    paged = [t["help_request"]["id"] for t in first["items"] + second["items"]]
    assert paged == ids and second["next_cursor"] is None
    # The township's and county's managers see the same for their region; villagers none.
    for headers in (people.township_manager, people.county_manager):
        managed = (await client.get("/api/v1/me/tasks", headers=headers)).json()
        assert [t["help_request"]["id"] for t in managed["items"]] == ids
    assert (await client.get("/api/v1/me/tasks", headers=people.villager)).status_code == 403


async def test_the_villager_reads_each_step_in_their_inbox(client, people):
    """Through the real outbox (no recorder): the villager is told their request was accepted
    and answered, in the in-app inbox, whatever WeChat does."""
    made = (await client.post(API, json=filing(), headers=people.villager)).json()
    url = f"{API}/{made['id']}"
    assert (await client.post(f"{url}/accept", headers=people.coordinator)).status_code == 200
    replied = await client.post(
        f"{url}/respond", json={"message": "明天上午来村委会"}, headers=people.coordinator
    )
    assert replied.status_code == 200, replied.text
    inbox = (await client.get("/api/v1/me/notifications", headers=people.villager)).json()
    events = [item["event"] for item in inbox["items"]]
    assert "help_request.accepted" in events and "help_request.replied" in events
    assert inbox["unread_count"] >= 2
    assert all(item["link"] == f"/help-requests/{made['id']}" for item in inbox["items"])
