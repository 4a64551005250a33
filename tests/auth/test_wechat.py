"""WeChat login and phone binding against a fake WeChat server on loopback."""

from __future__ import annotations

import asyncio

from sqlalchemy import select

from app.auth.models import RefreshToken, Role, UserAccount
from app.auth.wechat import ACCESS_TOKEN_KEY, WeChatClient

LOGIN_URL = "/api/v1/auth/wechat/login"
PHONE_URL = "/api/v1/auth/wechat/phone"


async def _login(client, code):
    return await client.post(LOGIN_URL, json={"code": code})


async def test_new_wechat_user_becomes_villager(client, db):
    response = await _login(client, "ok-openid-1")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["created"] is True
    assert body["user"]["role"] == "villager"
    assert body["user"]["wechat_bound"] is True
    assert "SECRET-SESSION-KEY" not in response.text
    assert "session_key" not in response.text
    stored = await db.scalar(select(UserAccount).where(UserAccount.wechat_openid == "openid-1"))
    assert stored is not None and stored.wechat_unionid == "u-openid-1"


async def test_known_wechat_user_gets_same_account(client):
    first = (await _login(client, "ok-openid-2")).json()
    second = (await _login(client, "ok-openid-2")).json()
    assert second["created"] is False
    assert second["user"]["id"] == first["user"]["id"]


async def test_bad_code_is_400(client):
    response = await _login(client, "bad")
    assert response.status_code == 400
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["code"] == "wechat_code_invalid"


async def test_rate_limited_is_429_with_retry_after(client):
    response = await _login(client, "limit")
    assert response.status_code == 429
    assert response.json()["code"] == "wechat_rate_limited"
    assert int(response.headers["retry-after"]) > 0


async def test_blocked_user_is_403(client):
    response = await _login(client, "blocked")
    assert response.status_code == 403
    assert response.json()["code"] == "wechat_user_blocked"


async def test_busy_is_retried_then_succeeds(client, wechat_server):
    response = await _login(client, "busyonce-openid-3")
    assert response.status_code == 200
    assert wechat_server.state.calls["jscode2session"] == 2


async def test_busy_throughout_is_503_with_retry_after(client, wechat_server):
    response = await _login(client, "busy")
    assert response.status_code == 503
    assert response.json()["code"] == "wechat_busy"
    assert "retry-after" in response.headers
    assert wechat_server.state.calls["jscode2session"] == 3


async def test_unreachable_wechat_is_503(app, settings):
    from app.core.errors import UpstreamUnavailable

    unreachable = settings.model_copy(update={"wechat_api_base": "http://127.0.0.1:9"})
    wechat = WeChatClient(unreachable, app.state.http, app.state.redis)
    try:
        await wechat.code_to_session("ok-x")
    except UpstreamUnavailable as exc:
        assert exc.code == "wechat_busy"
    else:
        raise AssertionError("expected an error")


async def _villager_token(client, openid):
    body = (await _login(client, f"ok-{openid}")).json()
    return {"Authorization": f"Bearer {body['access_token']}"}, body


async def test_phone_of_registered_coordinator_moves_wechat_to_that_account(client, make_user, db):
    coordinator = await make_user(Role.coordinator, ["450226100201"], phone="13900000001")
    headers, login = await _villager_token(client, "openid-c")
    response = await client.post(PHONE_URL, json={"code": "phone-13900000001"}, headers=headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["user"]["id"] == str(coordinator.id)
    assert body["user"]["role"] == "coordinator"
    assert body["user"]["phone"] == "139****0001"
    # Next time this WeChat user logs in, they are the coordinator.
    again = (await _login(client, "ok-openid-c")).json()
    assert again["user"]["id"] == str(coordinator.id)
    # The placeholder villager is retired and its tokens no longer work.
    placeholder = await db.get(UserAccount, login["user"]["id"])
    assert placeholder is not None and placeholder.is_active is False
    reasons = await db.scalars(
        select(RefreshToken.revoked_reason).where(RefreshToken.user_id == placeholder.id)
    )
    assert set(reasons) == {"merged_into_staff"}
    refresh = await client.post(
        "/api/v1/auth/refresh", json={"refresh_token": login["refresh_token"]}
    )
    assert refresh.status_code == 401


async def test_unregistered_phone_stays_on_villager(client):
    headers, login = await _villager_token(client, "openid-v")
    response = await client.post(PHONE_URL, json={"code": "phone-13700000009"}, headers=headers)
    assert response.status_code == 200
    assert response.json()["user"]["id"] == login["user"]["id"]
    assert response.json()["user"]["role"] == "villager"
    assert response.json()["user"]["phone"] == "137****0009"


async def test_staff_phone_already_bound_elsewhere_is_409(client, make_user):
    await make_user(Role.manager, ["450226100000"], phone="13900000002")
    first, _ = await _villager_token(client, "openid-a")
    assert (
        await client.post(PHONE_URL, json={"code": "phone-13900000002"}, headers=first)
    ).status_code == 200
    second, _ = await _villager_token(client, "openid-b")
    response = await client.post(PHONE_URL, json={"code": "phone-13900000002"}, headers=second)
    assert response.status_code == 409
    assert response.json()["code"] == "phone_already_bound"


async def test_phone_binding_needs_login(client):
    response = await client.post(PHONE_URL, json={"code": "phone-1"})
    assert response.status_code == 401


async def test_access_token_cached_in_redis(client, wechat_server, app):
    headers, _ = await _villager_token(client, "openid-t")
    for digits in ("13700000001", "13700000002"):
        await client.post(PHONE_URL, json={"code": f"phone-{digits}"}, headers=headers)
    assert wechat_server.state.calls["stable_token"] == 1
    assert await app.state.redis.ttl(ACCESS_TOKEN_KEY) > 6000


async def test_invalidated_access_token_is_refreshed_once(client, wechat_server, app):
    await app.state.redis.set(ACCESS_TOKEN_KEY, "revoked-token", ex=600)
    headers, _ = await _villager_token(client, "openid-r")
    response = await client.post(PHONE_URL, json={"code": "phone-13700000003"}, headers=headers)
    assert response.status_code == 200
    assert wechat_server.state.calls["stable_token"] == 1
    assert wechat_server.state.calls["getuserphonenumber"] == 2


async def test_concurrent_refresh_has_one_lock_holder(app, settings, wechat_server):
    wechat_server.state.stable_token_delay = 0.3
    clients = [WeChatClient(settings, app.state.http, app.state.redis) for _ in range(5)]
    tokens = await asyncio.gather(*(c.access_token() for c in clients))
    assert len(set(tokens)) == 1
    assert wechat_server.state.calls["stable_token"] == 1


async def test_villager_phone_binds_their_member_record(client, db, settings):
    from tests.households.factories import PersonSpec, make_household

    _, members = await make_household(
        db, settings, "450226100201", [PersonSpec("韦大", phone="13511112222")]
    )
    headers, _ = await _villager_token(client, "openid-m")
    response = await client.post(PHONE_URL, json={"code": "phone-13511112222"}, headers=headers)
    assert response.status_code == 200
    assert response.json()["user"]["member_id"] == str(members[0].id)
    # A second account with the same phone does not take the record over.
    other, _ = await _villager_token(client, "openid-n")
    second = await client.post(PHONE_URL, json={"code": "phone-13511112222"}, headers=other)
    assert second.json()["user"]["member_id"] is None


async def test_shared_family_phone_binds_no_member(client, db, settings):
    from tests.households.factories import PersonSpec, make_household

    await make_household(
        db,
        settings,
        "450226100201",
        [PersonSpec("韦父", phone="13533334444"), PersonSpec("韦子", "之子", phone="13533334444")],
    )
    headers, _ = await _villager_token(client, "openid-f")
    response = await client.post(PHONE_URL, json={"code": "phone-13533334444"}, headers=headers)
    assert response.json()["user"]["member_id"] is None
