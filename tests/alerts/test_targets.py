"""Employment targets: set per region and year by managers holding the region, audited, read
by staff in scope, and only at county level or below."""

from __future__ import annotations

from typing import Any

import pytest

from app.alerts.settings_scope import entity_id
from tests.alerts.settings_fixtures import (
    CITY,
    COUNTY,
    OTHER_COUNTY_TOWNSHIP,
    OTHER_TOWNSHIP,
    OTHER_TOWNSHIP_VILLAGE,
    PROVINCE,
    SIBLING_VILLAGE,
    TOWNSHIP,
    VILLAGE,
    audit_events,
    make_callers,
)

URL = "/api/v1/employment-targets"
YEAR = 2026


@pytest.fixture
async def callers(db, make_user, auth) -> dict[str, dict[str, str]]:
    return await make_callers(db, make_user, auth)


def _put(client, headers, region: str, target: Any, year: int = YEAR) -> Any:
    return client.put(f"{URL}/{region}/{year}", json={"target": target}, headers=headers)


async def test_set_change_remove_audited(client, db, callers):
    county = callers["county"]
    put = await _put(client, county, TOWNSHIP, 1200)
    assert put.status_code == 200, put.text
    body = put.json()
    assert body["region_code"] == TOWNSHIP and body["region_name"] == "古宜镇"
    assert body["level"] == "township" and body["year"] == YEAR and body["target"] == 1200
    assert (await _put(client, county, TOWNSHIP, 1200)).status_code == 200  # same: no write
    assert (await _put(client, county, TOWNSHIP, 1300)).json()["target"] == 1300
    assert (await client.delete(f"{URL}/{TOWNSHIP}/{YEAR}", headers=county)).status_code == 204
    missing = await client.delete(f"{URL}/{TOWNSHIP}/{YEAR}", headers=county)
    assert missing.status_code == 404 and missing.json()["code"] == "employment_target_not_found"
    events = await audit_events(
        db, "employment_target", entity_id("employment_target", TOWNSHIP, YEAR)
    )
    assert [(e.action, e.changes["target"]) for e in events] == [
        ("create", {"old": None, "new": 1200}),
        ("update", {"old": 1200, "new": 1300}),
        ("delete", {"old": 1300, "new": None}),
    ]
    assert all(e.region_code == TOWNSHIP for e in events)


async def test_validation(client, callers):
    admin = callers["admin"]
    for value in (0, -5, 1.5, "many", None, 10_000_001):
        assert (await _put(client, admin, VILLAGE, value)).status_code == 422, value
    for region in (PROVINCE, CITY):
        response = await _put(client, admin, region, 100)
        assert response.status_code == 422
        assert response.json()["errors"][0]["message"] == "务工目标只能设在县、乡镇或村"
    assert (await _put(client, admin, COUNTY, 5000)).status_code == 200
    assert (await _put(client, admin, VILLAGE, 100, year=2101)).status_code == 422
    extra = await client.put(
        f"{URL}/{VILLAGE}/{YEAR}", json={"target": 3, "pace": 1}, headers=admin
    )
    assert extra.status_code == 422


async def test_who_reads_and_sets_which_target(client, callers):
    admin = callers["admin"]
    for region in (COUNTY, TOWNSHIP, VILLAGE, SIBLING_VILLAGE, OTHER_TOWNSHIP):
        assert (await _put(client, admin, region, 100)).status_code == 200
    assert (await _put(client, admin, OTHER_COUNTY_TOWNSHIP, 100)).status_code == 200
    assert (await _put(client, admin, VILLAGE, 90, year=YEAR + 1)).status_code == 200

    async def listed(name: str, **params: Any) -> set[tuple[str, int]]:
        response = await client.get(URL, params=params, headers=callers[name])
        assert response.status_code == 200, (name, response.text)
        return {(i["region_code"], i["year"]) for i in response.json()["items"]}

    ours = {
        (COUNTY, YEAR),
        (TOWNSHIP, YEAR),
        (VILLAGE, YEAR),
        (VILLAGE, YEAR + 1),
        (SIBLING_VILLAGE, YEAR),
        (OTHER_TOWNSHIP, YEAR),
    }
    assert await listed("admin") == ours | {(OTHER_COUNTY_TOWNSHIP, YEAR)}
    assert await listed("county") == ours
    assert await listed("township") == ours - {(OTHER_TOWNSHIP, YEAR)}
    assert await listed("coordinator") == {
        (COUNTY, YEAR),
        (TOWNSHIP, YEAR),
        (VILLAGE, YEAR),
        (VILLAGE, YEAR + 1),
    }
    assert await listed("other county") == {(OTHER_COUNTY_TOWNSHIP, YEAR)}
    assert await listed("county", region=TOWNSHIP, year=YEAR) == {
        (COUNTY, YEAR),
        (TOWNSHIP, YEAR),
        (VILLAGE, YEAR),
        (SIBLING_VILLAGE, YEAR),
    }
    for name, region in (("coordinator", SIBLING_VILLAGE), ("township", OTHER_TOWNSHIP)):
        response = await client.get(URL, params={"region": region}, headers=callers[name])
        assert response.status_code == 404

    # Writes: a manager whose region holds it.
    assert (await _put(client, callers["township"], VILLAGE, 120)).status_code == 200
    assert (await _put(client, callers["township"], TOWNSHIP, 120)).status_code == 200
    refused = await _put(client, callers["township"], COUNTY, 120)
    assert refused.status_code == 403 and refused.json()["code"] == "region_not_managed"
    for name, region in (
        ("township", OTHER_TOWNSHIP_VILLAGE),
        ("other county", TOWNSHIP),
        ("other township", VILLAGE),
    ):
        assert (await _put(client, callers[name], region, 120)).status_code == 404
        response = await client.delete(f"{URL}/{region}/{YEAR}", headers=callers[name])
        assert response.status_code == 404
    for name in ("coordinator", "villager"):
        assert (await _put(client, callers[name], VILLAGE, 120)).status_code == 403
        response = await client.delete(f"{URL}/{VILLAGE}/{YEAR}", headers=callers[name])
        assert response.status_code == 403
    assert (await client.get(URL, headers=callers["villager"])).status_code == 403
    assert (await client.get(URL)).status_code == 401
    assert (await client.delete(f"{URL}/{VILLAGE}/{YEAR}")).status_code == 401
