"""`If-Match` on a member's correction: strong comparison, `*`, lists, malformed headers."""

from __future__ import annotations

import pytest

from app.auth.models import Role
from app.core.preconditions import IfMatch, parse_if_match
from tests.households.factories import PersonSpec, make_household

VILLAGE = "450226100201"


@pytest.fixture
async def member_id(db, settings):
    _, members = await make_household(db, settings, VILLAGE, [PersonSpec("韦志强")])
    return members[0].id


@pytest.fixture
async def headers(make_user, auth):
    return auth(await make_user(Role.coordinator, [VILLAGE]))


async def _patch(client, member_id, headers, if_match, body=None):
    return await client.patch(
        f"/api/v1/members/{member_id}",
        json=body or {"name": "韦志刚"},
        headers={**headers, "If-Match": if_match},
    )


async def test_weak_etag_does_not_match(client, member_id, headers):
    weak = await _patch(client, member_id, headers, 'W/"1"')
    assert weak.status_code == 412
    assert weak.json()["code"] == "stale_version"
    current = await client.get(f"/api/v1/members/{member_id}", headers=headers)
    assert current.json()["version"] == 1


async def test_star_matches_the_current_version(client, member_id, headers):
    first = await _patch(client, member_id, headers, "*")
    assert first.status_code == 200, first.text
    assert first.headers["etag"] == '"2"'
    # `*` decides even over a stale version in the body.
    second = await _patch(client, member_id, headers, "*", {"name": "韦三", "version": 1})
    assert second.status_code == 200, second.text
    assert second.json()["version"] == 3


async def test_a_list_matches_when_any_strong_tag_does(client, member_id, headers):
    assert (await _patch(client, member_id, headers, '"7", W/"1"')).status_code == 412
    listed = await _patch(client, member_id, headers, '"7", "1"')
    assert listed.status_code == 200, listed.text


@pytest.mark.parametrize("value", ["1", '"1', "W/1", '"1" "2"', "**", ""])
async def test_malformed_if_match_is_400(client, member_id, headers, value):
    response = await _patch(client, member_id, headers, value)
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_if_match"


def test_parse_if_match():
    assert parse_if_match("*") == IfMatch(any_version=True)
    assert parse_if_match(' "3" , W/"4", "x", "5"') == IfMatch(versions=frozenset({3, 5}))
    assert not parse_if_match('W/"3"').matches(3)
    assert parse_if_match('"3"').matches(3)
    with pytest.raises(ValueError):
        parse_if_match("3")
