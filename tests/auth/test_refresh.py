"""Refresh tokens rotate on every use; a replayed spent token ends its whole family."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select, text, update

from app.auth.models import RefreshToken, Role, UserAccount
from app.core.security import fingerprint
from tests.conftest import TEST_PASSWORD

REFRESH_URL = "/api/v1/auth/refresh"


async def _login(client, make_user):
    await make_user(Role.admin, username="ops")
    response = await client.post(
        "/api/v1/auth/token",
        data={"grant_type": "password", "username": "ops", "password": TEST_PASSWORD},
    )
    return response.json()


async def _refresh(client, token):
    return await client.post(REFRESH_URL, json={"refresh_token": token})


async def _age_spent(db, token, seconds=60):
    """Move a spent token's spend time back, past the grace."""
    await db.execute(
        update(RefreshToken)
        .where(RefreshToken.token_hash == fingerprint(token))
        .values(spent_at=datetime.now(UTC) - timedelta(seconds=seconds))
    )
    await db.commit()


async def test_refresh_rotates(client, make_user):
    first = await _login(client, make_user)
    second = await _refresh(client, first["refresh_token"])
    assert second.status_code == 200, second.text
    pair = second.json()
    assert pair["refresh_token"] != first["refresh_token"]
    me = await client.get("/api/v1/me", headers={"Authorization": f"Bearer {pair['access_token']}"})
    assert me.status_code == 200
    third = await _refresh(client, pair["refresh_token"])
    assert third.status_code == 200


async def test_reuse_after_grace_revokes_the_family(client, make_user, db):
    first = await _login(client, make_user)
    second = (await _refresh(client, first["refresh_token"])).json()
    await _age_spent(db, first["refresh_token"])
    replay = await _refresh(client, first["refresh_token"])
    assert replay.status_code == 401
    assert replay.json()["code"] == "refresh_token_reused"
    # The legitimate holder's newer token died with the family.
    after = await _refresh(client, second["refresh_token"])
    assert after.status_code == 401
    assert after.json()["code"] == "refresh_token_invalid"
    reasons = set((await db.scalars(select(RefreshToken.revoked_reason))).all())
    assert reasons == {"reuse_detected"}


async def test_retry_within_grace_issues_a_fresh_token(client, make_user):
    first = await _login(client, make_user)
    lost = (await _refresh(client, first["refresh_token"])).json()
    retry = await _refresh(client, first["refresh_token"])
    assert retry.status_code == 200
    fresh = retry.json()["refresh_token"]
    # The answer the phone never saw is retired; the retry's token works.
    assert (await _refresh(client, lost["refresh_token"])).status_code == 401
    assert (await _refresh(client, fresh)).status_code == 200


async def test_replay_of_grandparent_after_successor_used_is_reuse(client, make_user):
    first = await _login(client, make_user)
    second = (await _refresh(client, first["refresh_token"])).json()
    assert (await _refresh(client, second["refresh_token"])).status_code == 200
    replay = await _refresh(client, first["refresh_token"])
    assert replay.status_code == 401
    assert replay.json()["code"] == "refresh_token_reused"


async def test_unknown_and_expired_refresh_tokens(client, make_user, db):
    assert (await _refresh(client, "made-up")).json()["code"] == "refresh_token_invalid"
    first = await _login(client, make_user)
    await db.execute(
        update(RefreshToken).values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
    )
    await db.commit()
    response = await _refresh(client, first["refresh_token"])
    assert response.status_code == 401
    assert response.json()["code"] == "refresh_token_invalid"


async def test_refresh_tokens_stored_hashed(client, make_user, db):
    first = await _login(client, make_user)
    stored = (await db.scalars(select(RefreshToken.token_hash))).all()
    assert first["refresh_token"] not in stored
    assert fingerprint(first["refresh_token"]) in stored


async def test_logout_ends_that_session(client, make_user):
    first = await _login(client, make_user)
    headers = {"Authorization": f"Bearer {first['access_token']}"}
    response = await client.post(
        "/api/v1/auth/logout", json={"refresh_token": first["refresh_token"]}, headers=headers
    )
    assert response.status_code == 204
    assert (await _refresh(client, first["refresh_token"])).status_code == 401


async def test_logout_everywhere_invalidates_access_tokens(client, make_user, db):
    first = await _login(client, make_user)
    headers = {"Authorization": f"Bearer {first['access_token']}"}
    response = await client.post("/api/v1/auth/logout", json={"everywhere": True}, headers=headers)
    assert response.status_code == 204
    assert (await client.get("/api/v1/me", headers=headers)).json()["code"] == "invalid_token"
    assert (await _refresh(client, first["refresh_token"])).status_code == 401


async def _set_active(db, active, *, triggers=True):
    if not triggers:  # as a deactivation the database's trigger never saw
        await db.execute(text("SET LOCAL session_replication_role = replica"))
    await db.execute(update(UserAccount).values(is_active=active))
    await db.commit()


async def test_deactivation_revokes_refresh_tokens_for_good(client, make_user, db):
    first = await _login(client, make_user)
    await _set_active(db, False)
    refused = await _refresh(client, first["refresh_token"])
    assert refused.status_code == 401
    assert refused.json()["code"] == "refresh_token_invalid"
    reasons = set((await db.scalars(select(RefreshToken.revoked_reason))).all())
    assert reasons == {"account_disabled"}
    await _set_active(db, True)
    again = await _refresh(client, first["refresh_token"])
    assert again.status_code == 401
    assert again.json()["code"] == "refresh_token_invalid"


async def test_refresh_of_a_deactivated_account_keeps_its_revocation(client, make_user, db):
    """The refresh path's own revocation survives the 401 that reports it."""
    first = await _login(client, make_user)
    await _set_active(db, False, triggers=False)
    refused = await _refresh(client, first["refresh_token"])
    assert refused.status_code == 401
    assert refused.json()["detail"] == "账号已停用"
    await _set_active(db, True)
    assert (await _refresh(client, first["refresh_token"])).status_code == 401
