"""Writes per account, and full ID-number reveals per manager, are limited: 429 with
`Retry-After` past the limit."""

from __future__ import annotations

import uuid

from app.auth.models import Role
from app.core.rate_limit import TooManyWrites, WriteAllowance
from tests.households.factories import PersonSpec, make_household, synthetic_id_number

VILLAGE = "450226100201"
TOWNSHIP = "450226100000"


def _too_many(response, code: str, window: int) -> None:
    assert response.status_code == 429
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == code
    assert 1 <= int(response.headers["retry-after"]) <= window + 1


async def test_writes_per_account_are_limited(client, make_user, auth, settings, monkeypatch):
    monkeypatch.setattr(settings, "write_rate_max", 3)
    coordinator = auth(await make_user(Role.coordinator, [VILLAGE]))
    url = f"/api/v1/jobs/{uuid.uuid4()}"
    for _ in range(3):
        assert (await client.patch(url, json={}, headers=coordinator)).status_code != 429
    _too_many(
        await client.patch(url, json={}, headers=coordinator),
        "too_many_writes",
        settings.write_rate_window_seconds,
    )
    # Reads are not counted, and the next account has its own allowance.
    assert (await client.get("/api/v1/me", headers=coordinator)).status_code == 200
    other = auth(await make_user(Role.coordinator, [VILLAGE]))
    assert (await client.patch(url, json={}, headers=other)).status_code != 429


async def test_write_limit_zero_is_off(client, make_user, auth, settings, monkeypatch):
    monkeypatch.setattr(settings, "write_rate_max", 0)
    coordinator = auth(await make_user(Role.coordinator, [VILLAGE]))
    url = f"/api/v1/jobs/{uuid.uuid4()}"
    for _ in range(5):
        assert (await client.patch(url, json={}, headers=coordinator)).status_code != 429


async def test_reveals_per_manager_are_capped(client, make_user, auth, db, settings, monkeypatch):
    assert settings.id_reveal_max == 30 and settings.id_reveal_window_seconds == 3600
    monkeypatch.setattr(settings, "id_reveal_max", 2)
    number = synthetic_id_number("19780203")
    _, members = await make_household(db, settings, VILLAGE, [PersonSpec("覃二", id_number=number)])
    url = f"/api/v1/members/{members[0].id}/id-number/reveal"
    manager = auth(await make_user(Role.manager, [TOWNSHIP]))
    body = {"reason": "核对医保信息"}
    for _ in range(2):
        assert (await client.post(url, json=body, headers=manager)).json()["id_number"] == number
    _too_many(await client.post(url, json=body, headers=manager), "too_many_reveals", 3600)
    other = auth(await make_user(Role.manager, [TOWNSHIP]))
    assert (await client.post(url, json=body, headers=other)).status_code == 200


def test_limits_are_documented(app):
    document = app.openapi()
    reveal = document["paths"]["/api/v1/members/{member_id}/id-number/reveal"]["post"]
    assert "too_many_reveals" in reveal["responses"]["429"]["description"]
    assert "too_many_writes" in reveal["responses"]["429"]["description"]
    assert "payload_too_large" in reveal["responses"]["413"]["description"]
    me = document["paths"]["/api/v1/me"]["get"]
    assert "429" not in me["responses"] and "413" not in me["responses"]


async def test_processes_claim_writes_in_chunks_never_past_the_limit(app, settings, monkeypatch):
    """Two processes' allowances share one count in Redis: together they grant at most the
    limit, asking Redis once per chunk (a twentieth of the limit)."""
    monkeypatch.setattr(settings, "write_rate_max", 100)
    first, second = (WriteAllowance(app.state.redis, settings) for _ in range(2))
    account = uuid.uuid4()
    granted = 0
    refused: list[TooManyWrites] = []
    for turn in range(130):
        try:
            await (first if turn % 3 else second).spend(account)
            granted += 1
        except TooManyWrites as error:
            refused.append(error)
    assert 90 <= granted <= 100
    assert len(refused) == 130 - granted
    assert 1 <= int(refused[0].headers["Retry-After"]) <= settings.write_rate_window_seconds + 1
    keys = [key async for key in app.state.redis.scan_iter("rate:write:*")]
    assert len(keys) == 1
    # Each process asked once more, to be refused; then it refuses without asking.
    assert int(await app.state.redis.get(keys[0])) == 100 + 2 * 5


async def test_a_county_sets_its_own_reveal_cap(client, make_user, auth, db, settings):
    """The county manager sets the cap for the county's managers, audited; a township manager
    reads it and may not change it; a county that set none keeps `ID_REVEAL_MAX`."""
    from sqlalchemy import select

    from app.audit.models import AuditEvent

    county = auth(await make_user(Role.manager, ["450226000000"]))
    township = auth(await make_user(Role.manager, [TOWNSHIP]))
    url = "/api/v1/registry/settings"
    assert (await client.get(url, headers=township)).json()["id_reveal_max"] == 30
    refused = await client.put(url, json={"id_reveal_max": 1}, headers=township)
    assert refused.status_code == 403 and refused.json()["code"] == "not_county_level"
    set_ = await client.put(url, json={"id_reveal_max": 1}, headers=county)
    assert set_.status_code == 200, set_.text
    assert set_.json()["id_reveal_max"] == 1
    event = await db.scalar(select(AuditEvent).where(AuditEvent.entity == "registry_setting"))
    assert event.changes == {"id_reveal_max": {"old": None, "new": 1}}

    _, members = await make_household(db, settings, VILLAGE, [PersonSpec("覃三")])
    reveal = f"/api/v1/members/{members[0].id}/id-number/reveal"
    body = {"reason": "核对医保信息"}
    assert (await client.post(reveal, json=body, headers=township)).status_code == 200
    _too_many(await client.post(reveal, json=body, headers=township), "too_many_reveals", 3600)
    too_high = await client.put(url, json={"id_reveal_max": 1001}, headers=county)
    assert too_high.status_code == 422
