"""A person's steps on an alert (open → acknowledged → resolved), each audited, wrong steps
answered 409; and the list's filters and pages."""

from __future__ import annotations

from sqlalchemy import select

from app.audit.models import AuditEvent
from tests.alerts.conftest import TOWNSHIP, VILLAGE, an_alert, labourers


async def test_acknowledge_then_resolve_each_audited(client, db, settings, staff):
    (member,) = await labourers(db, settings, VILLAGE, 1)
    alert = await an_alert(
        db, VILLAGE, str(member), rule="employment_lost", member_id=member,
        evidence={"2026-09": {"previous_period": "2026-08"}},
    )  # fmt: skip
    url = f"/api/v1/alerts/{alert.id}"
    acked = await client.post(f"{url}/ack", headers=staff.coordinator)
    assert acked.status_code == 200, acked.text
    body = acked.json()
    assert (body["status"], body["acknowledged_by"], body["version"]) == (
        "acknowledged", str(staff.coordinator_id), 2,
    )  # fmt: skip
    assert body["member_name"] == "劳动力0" and body["title"] == "就业转失业"
    again = await client.post(f"{url}/ack", headers=staff.coordinator)
    assert (again.status_code, again.json()["code"]) == (409, "illegal_transition")

    resolved = await client.post(
        f"{url}/resolution", json={"action": "职业介绍", "note": "推荐到县内工业园区"},
        headers=staff.township,
    )  # fmt: skip
    assert resolved.status_code == 200, resolved.text
    body = resolved.json()
    assert (body["status"], body["resolution_action"], body["resolution_note"]) == (
        "resolved", "职业介绍", "推荐到县内工业园区",
    )  # fmt: skip
    assert body["resolved_by"] == str(staff.township_id)
    for step in ("ack", "resolution"):
        late = await client.post(
            f"{url}/{step}", json={"action": "其他"} if step == "resolution" else None,
            headers=staff.county,
        )  # fmt: skip
        assert (late.status_code, late.json()["code"]) == (409, "illegal_transition")

    events = (
        await db.execute(
            select(AuditEvent.action, AuditEvent.actor_id, AuditEvent.changes)
            .where(AuditEvent.entity == "alert", AuditEvent.entity_id == alert.id)
            .order_by(AuditEvent.occurred_at)
        )
    ).all()
    assert [(e.action, e.actor_id) for e in events] == [
        ("acknowledge", staff.coordinator_id),
        ("resolve", staff.township_id),
    ]
    assert events[1].changes["status"] == {"old": "acknowledged", "new": "resolved"}


async def test_an_open_alert_may_be_resolved_at_once_but_not_an_ended_one(client, db, staff):
    alert = await an_alert(db, TOWNSHIP, TOWNSHIP)
    resolved = await client.post(
        f"/api/v1/alerts/{alert.id}/resolution", json={"action": "其他"}, headers=staff.township
    )
    assert resolved.status_code == 200
    assert resolved.json()["acknowledged_at"] is not None
    ended = await an_alert(
        db, TOWNSHIP, "450226100000", rule="region_behind_target", status="auto_resolved",
        ended_period="2026-10",
    )  # fmt: skip
    for step, body in (("ack", None), ("resolution", {"action": "其他"})):
        answer = await client.post(
            f"/api/v1/alerts/{ended.id}/{step}", json=body, headers=staff.township
        )
        assert (answer.status_code, answer.json()["code"]) == (409, "illegal_transition")
    unknown = await client.post(
        f"/api/v1/alerts/{alert.id}/resolution", json={"action": "送温暖"}, headers=staff.county
    )
    assert unknown.status_code == 422


async def test_the_list_filters_by_period_rule_and_status_page_by_page(client, db, staff):
    long = await an_alert(
        db, TOWNSHIP, TOWNSHIP, opened_period="2026-08", last_period="2026-10",
        status="auto_resolved", ended_period="2026-11",
    )  # fmt: skip
    late = await an_alert(
        db, "450226100201", "450226100201", rule="region_behind_target", opened_period="2026-10"
    )

    async def listed(**params) -> list[str]:
        answer = await client.get("/api/v1/alerts", params=params, headers=staff.county)
        assert answer.status_code == 200, answer.text
        return [item["id"] for item in answer.json()["items"]]

    assert await listed() == [str(late.id), str(long.id)]  # newest first
    assert await listed(period="2026-07") == []
    assert await listed(period="2026-09") == [str(long.id)]
    assert await listed(period="2026-10") == [str(late.id), str(long.id)]
    assert await listed(period="2026-11") == []  # ended: no run found it in 2026-11
    assert await listed(rule="region_behind_target") == [str(late.id)]
    assert await listed(status="auto_resolved") == [str(long.id)]
    assert await listed(region="450226100201") == [str(late.id)]
    first = (await client.get("/api/v1/alerts?limit=1", headers=staff.county)).json()
    assert [i["id"] for i in first["items"]] == [str(late.id)]
    second = (
        await client.get(
            "/api/v1/alerts", params={"limit": 1, "cursor": first["next_cursor"]},
            headers=staff.county,
        )
    ).json()  # fmt: skip
    assert [i["id"] for i in second["items"]] == [str(long.id)]
    assert second["next_cursor"] is None
    assert (
        await client.get("/api/v1/alerts?period=2026-13", headers=staff.county)
    ).status_code == 422
