"""Region scope: every role sees only its regions; outside them is 404, like a missing one."""

from __future__ import annotations

import pytest

from app.auth.models import Role
from app.core.scope import Scope, code_range, level_of, parent_of

COUNTY = "450226000000"
TOWNSHIP_A = "450226100000"  # 古宜镇
TOWNSHIP_B = "450226101000"  # 斗江镇
VILLAGE_A1 = "450226100201"
VILLAGE_A2 = "450226100202"
VILLAGE_B1 = "450226101201"


def test_levels_and_parents():
    assert level_of("450000000000") == "province"
    assert level_of("450200000000") == "city"
    assert level_of(COUNTY) == "county"
    assert level_of(TOWNSHIP_A) == "township"
    assert level_of(VILLAGE_A1) == "village"
    assert parent_of(VILLAGE_A1) == TOWNSHIP_A
    assert parent_of(TOWNSHIP_A) == COUNTY
    assert parent_of("450000000000") is None
    assert code_range(TOWNSHIP_A) == ("450226100000", "450226100999")


def test_scope_covers():
    township = Scope.of_regions([TOWNSHIP_A])
    assert township.covers(VILLAGE_A1)
    assert not township.covers(VILLAGE_B1)
    assert not township.covers(COUNTY)
    assert Scope.everything().covers(VILLAGE_B1)
    assert not Scope.nothing().covers(VILLAGE_A1)


def test_code_ranges_cover_what_covers_covers():
    scope = Scope.of_regions([TOWNSHIP_A, VILLAGE_B1])
    lows, highs = scope.code_ranges()
    for code in (VILLAGE_A1, VILLAGE_B1, COUNTY, TOWNSHIP_A):
        in_ranges = any(low <= code <= high for low, high in zip(lows, highs, strict=True))
        assert in_ranges == scope.covers(code)
    assert Scope.nothing().code_ranges() == ([], [])
    (low,), (high,) = Scope.everything().code_ranges()
    assert low <= COUNTY <= high


async def _get(client, headers, code):
    return await client.get(f"/api/v1/regions/{code}", headers=headers)


async def test_manager_of_township_a_cannot_see_township_b(client, make_user, auth):
    manager = await make_user(Role.manager, [TOWNSHIP_A])
    headers = auth(manager)
    assert (await _get(client, headers, VILLAGE_A1)).status_code == 200
    for outside in (VILLAGE_B1, TOWNSHIP_B, COUNTY):
        response = await _get(client, headers, outside)
        assert response.status_code == 404, outside
        assert response.json()["code"] == "region_not_found"
    # Out of scope looks exactly like missing.
    missing = await _get(client, headers, "450226100299")
    hidden = await _get(client, headers, VILLAGE_B1)
    assert missing.json()["title"] == hidden.json()["title"]
    assert missing.json()["code"] == hidden.json()["code"]


async def test_region_detail_has_breadcrumbs(client, make_user, auth):
    manager = await make_user(Role.manager, [TOWNSHIP_A])
    body = (await _get(client, auth(manager), VILLAGE_A1)).json()
    assert body["name"] == "大寨村"
    assert [r["code"] for r in body["path"]] == ["450000000000", "450200000000", COUNTY, TOWNSHIP_A]
    township = (await _get(client, auth(manager), TOWNSHIP_A)).json()
    assert township["children_count"] == 4


async def test_coordinator_sees_only_their_villages(client, make_user, auth):
    coordinator = await make_user(Role.coordinator, [VILLAGE_A1, VILLAGE_A2])
    headers = auth(coordinator)
    listed = (await client.get("/api/v1/regions", headers=headers)).json()
    assert [r["code"] for r in listed["items"]] == [VILLAGE_A1, VILLAGE_A2]
    assert (await _get(client, headers, VILLAGE_A2)).status_code == 200
    assert (await _get(client, headers, "450226100203")).status_code == 404
    assert (await _get(client, headers, TOWNSHIP_A)).status_code == 404


async def test_children_listing_is_scoped(client, make_user, auth):
    county = await make_user(Role.manager, [COUNTY])
    townships = (
        await client.get("/api/v1/regions", params={"parent": COUNTY}, headers=auth(county))
    ).json()
    assert [r["code"] for r in townships["items"]] == [TOWNSHIP_A, TOWNSHIP_B, "450226102000"]
    township_manager = await make_user(Role.manager, [TOWNSHIP_A])
    response = await client.get(
        "/api/v1/regions", params={"parent": TOWNSHIP_B}, headers=auth(township_manager)
    )
    assert response.status_code == 404


async def test_listing_paginates_with_cursor(client, make_user, auth):
    county = await make_user(Role.manager, [COUNTY])
    seen: list[str] = []
    cursor = None
    while True:
        params = {"parent": TOWNSHIP_A, "limit": 3}
        if cursor:
            params["cursor"] = cursor
        page = (await client.get("/api/v1/regions", params=params, headers=auth(county))).json()
        seen += [r["code"] for r in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [VILLAGE_A1, VILLAGE_A2, "450226100203", "450226100204"]


async def test_bad_cursor_and_limit(client, make_user, auth):
    admin = await make_user(Role.admin)
    bad_cursor = await client.get("/api/v1/regions?cursor=!!", headers=auth(admin))
    assert bad_cursor.status_code == 400
    assert bad_cursor.json()["code"] == "invalid_cursor"
    too_big = await client.get("/api/v1/regions?limit=501", headers=auth(admin))
    assert too_big.status_code == 422
    assert too_big.json()["errors"][0]["field"] == "query.limit"


async def test_admin_sees_the_roots(client, make_user, auth):
    admin = await make_user(Role.admin)
    roots = (await client.get("/api/v1/regions", headers=auth(admin))).json()
    assert [r["code"] for r in roots["items"]] == ["450000000000"]
    assert (await _get(client, auth(admin), VILLAGE_B1)).status_code == 200


@pytest.mark.parametrize("code", [VILLAGE_A1, COUNTY, "450000000000"])
async def test_villager_sees_no_regions(client, make_user, auth, code):
    villager = await make_user(Role.villager)
    assert (await _get(client, auth(villager), code)).status_code == 404
    listed = (await client.get("/api/v1/regions", headers=auth(villager))).json()
    assert listed["items"] == []


async def test_invalid_code_is_404_not_500(client, make_user, auth):
    admin = await make_user(Role.admin)
    assert (await _get(client, auth(admin), "not-a-code")).status_code == 404


async def test_regions_need_login(client):
    assert (await client.get("/api/v1/regions")).status_code == 401
    assert (await client.get(f"/api/v1/regions/{COUNTY}")).status_code == 401
