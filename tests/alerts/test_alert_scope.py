"""Who sees which alerts, on every endpoint: a coordinator those of their villages, a manager
those of their region (regional ones included), an admin all, a villager none (403); out of
scope answers 404, like a missing alert."""

from __future__ import annotations

import pytest

from tests.alerts.conftest import (
    OTHER_TOWNSHIP,
    OTHER_VILLAGE,
    TOWNSHIP,
    VILLAGE,
    an_alert,
    labourers,
)


@pytest.fixture
async def alerts(db, settings) -> dict[str, str]:
    (here,) = await labourers(db, settings, VILLAGE, 1)
    (there,) = await labourers(db, settings, OTHER_VILLAGE, 1)
    made = {
        "here": await an_alert(db, VILLAGE, str(here), rule="employment_lost", member_id=here),
        "there": await an_alert(
            db, OTHER_VILLAGE, str(there), rule="employment_lost", member_id=there
        ),
        "township": await an_alert(db, TOWNSHIP, TOWNSHIP),
        "other_township": await an_alert(db, OTHER_TOWNSHIP, OTHER_TOWNSHIP),
    }
    return {name: str(alert.id) for name, alert in made.items()}


SEES = {
    "coordinator": {"here"},
    "other_coordinator": {"there"},
    "township": {"here", "township"},
    "other_township": {"there", "other_township"},
    "county": {"here", "there", "township", "other_township"},
    "admin": {"here", "there", "township", "other_township"},
}


async def test_each_role_lists_and_reads_only_its_alerts(client, staff, alerts):
    for role, seen in SEES.items():
        headers = getattr(staff, role)
        listed = await client.get("/api/v1/alerts", headers=headers)
        assert listed.status_code == 200
        names = {
            name for name, id_ in alerts.items() if id_ in {i["id"] for i in listed.json()["items"]}
        }
        assert names == seen, role
        for name, alert_id in alerts.items():
            answer = await client.get(f"/api/v1/alerts/{alert_id}", headers=headers)
            assert answer.status_code == (200 if name in seen else 404), (role, name)
            if name not in seen:
                assert answer.json()["code"] == "alert_not_found"


async def test_each_role_steps_only_on_its_alerts(client, staff, alerts):
    for role, seen in SEES.items():
        headers = getattr(staff, role)
        for name in set(alerts) - seen:
            for step, body in (("ack", None), ("resolution", {"action": "其他"})):
                answer = await client.post(
                    f"/api/v1/alerts/{alerts[name]}/{step}", json=body, headers=headers
                )
                assert answer.status_code == 404, (role, name, step)
    acked = await client.post(f"/api/v1/alerts/{alerts['here']}/ack", headers=staff.coordinator)
    assert acked.status_code == 200


async def test_a_villager_reaches_no_alert(client, staff, alerts):
    assert (await client.get("/api/v1/alerts", headers=staff.villager)).status_code == 403
    for step, body in (("", None), ("/ack", None), ("/resolution", {"action": "其他"})):
        method = client.get if step == "" else client.post
        kwargs = {} if step == "" else {"json": body}
        answer = await method(
            f"/api/v1/alerts/{alerts['here']}{step}", headers=staff.villager, **kwargs
        )
        assert answer.status_code == 403, step
    assert (await client.get("/api/v1/alerts")).status_code == 401


async def test_the_region_filter_keeps_to_the_callers_scope(client, staff, alerts):
    async def listed(headers, region) -> tuple[int, set[str]]:
        answer = await client.get("/api/v1/alerts", params={"region": region}, headers=headers)
        if answer.status_code != 200:
            return answer.status_code, set()
        ids = {i["id"] for i in answer.json()["items"]}
        return 200, {name for name, id_ in alerts.items() if id_ in ids}

    assert await listed(staff.coordinator, TOWNSHIP) == (200, {"here"})
    assert await listed(staff.coordinator, OTHER_VILLAGE) == (404, set())
    assert await listed(staff.township, VILLAGE) == (200, {"here"})
    assert await listed(staff.township, OTHER_TOWNSHIP) == (404, set())
    assert await listed(staff.county, OTHER_TOWNSHIP) == (200, {"there", "other_township"})
