"""Every malformed, forged or stale access token answers 401 problem+json."""

from __future__ import annotations

import base64
import json
import time
import uuid

import jwt
import pytest

from app.auth.models import Role
from app.core.config import key_id
from tests.conftest import PREVIOUS_JWT_SECRET


def _claims(user_id: uuid.UUID, settings, **overrides):
    now = int(time.time())
    claims = {
        "sub": str(user_id),
        "role": "admin",
        "iss": settings.jwt_issuer,
        "aud": settings.jwt_audience,
        "iat": now,
        "exp": now + 600,
    }
    claims.update(overrides)
    return {k: v for k, v in claims.items() if v is not None}


def _sign(claims, secret, kid=None):
    return jwt.encode(claims, secret, algorithm="HS256", headers={"kid": kid or key_id(secret)})


def _b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


async def _me(client, token):
    return await client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})


async def test_valid_token_reads_me(client, make_user, settings):
    user = await make_user(Role.admin)
    response = await _me(client, _sign(_claims(user.id, settings), settings.jwt_secret))
    assert response.status_code == 200
    assert response.json()["id"] == str(user.id)


async def test_token_signed_with_previous_key_still_accepted(client, make_user, settings):
    user = await make_user(Role.admin)
    response = await _me(client, _sign(_claims(user.id, settings), PREVIOUS_JWT_SECRET))
    assert response.status_code == 200


@pytest.mark.parametrize(
    ("case", "code"),
    [
        ("alg_none", "invalid_token"),
        ("wrong_key", "invalid_token"),
        ("unknown_kid", "invalid_token"),
        ("expired", "token_expired"),
        ("wrong_audience", "invalid_token"),
        ("wrong_issuer", "invalid_token"),
        ("missing_exp", "invalid_token"),
        ("missing_sub", "invalid_token"),
        ("tampered_payload", "invalid_token"),
        ("garbage", "invalid_token"),
        ("unknown_user", "invalid_token"),
    ],
)
async def test_bad_tokens_answer_401(client, make_user, settings, case, code):
    user = await make_user(Role.villager)
    secret = settings.jwt_secret
    good = _claims(user.id, settings)
    tokens = {
        "alg_none": _b64({"alg": "none", "typ": "JWT", "kid": key_id(secret)})
        + "."
        + _b64(good)
        + ".",
        # Signed with another secret but claiming our key id.
        "wrong_key": _sign(good, "an-attacker-secret-of-sufficient-length", kid=key_id(secret)),
        "unknown_kid": _sign(good, secret, kid="nope"),
        "expired": _sign(_claims(user.id, settings, exp=int(time.time()) - 60), secret),
        "wrong_audience": _sign(_claims(user.id, settings, aud="someone-else"), secret),
        "wrong_issuer": _sign(_claims(user.id, settings, iss="someone-else"), secret),
        "missing_exp": _sign({k: v for k, v in good.items() if k != "exp"}, secret),
        "missing_sub": _sign({k: v for k, v in good.items() if k != "sub"}, secret),
        "garbage": "not-a-jwt",
        "unknown_user": _sign(_claims(uuid.uuid4(), settings), secret),
    }
    if case == "tampered_payload":
        header, _, signature = _sign(good, secret).split(".")
        token = f"{header}.{_b64({**good, 'role': 'admin', 'sub': str(uuid.uuid4())})}.{signature}"
    else:
        token = tokens[case]
    response = await _me(client, token)
    assert response.status_code == 401
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.headers["www-authenticate"] == "Bearer"
    body = response.json()
    assert body["code"] == code
    assert body["status"] == 401


async def test_missing_token_is_401(client):
    response = await client.get("/api/v1/me")
    assert response.status_code == 401
    assert response.json()["code"] == "unauthorized"


async def test_role_comes_from_the_account_not_the_token(client, make_user, settings):
    user = await make_user(Role.villager)
    token = _sign(_claims(user.id, settings, role="admin"), settings.jwt_secret)
    response = await _me(client, token)
    assert response.json()["role"] == "villager"


async def test_disabled_account_is_refused(client, make_user, settings, db):
    user = await make_user(Role.coordinator, ["450226100201"])
    token = _sign(_claims(user.id, settings), settings.jwt_secret)
    user = await db.merge(user)
    user.is_active = False
    await db.commit()
    assert (await _me(client, token)).status_code == 401


async def test_a_cached_token_still_expires(client, make_user, settings, monkeypatch):
    from datetime import UTC, datetime, timedelta

    from app.core import security

    user = await make_user(Role.admin)
    token = _sign(_claims(user.id, settings, exp=int(time.time()) + 2), settings.jwt_secret)
    assert (await _me(client, token)).status_code == 200  # verified, then remembered

    later = datetime.now(UTC) + timedelta(seconds=5)

    class Clock(datetime):
        @classmethod
        def now(cls, tz=None):
            return later

    monkeypatch.setattr(security, "datetime", Clock)
    response = await _me(client, token)
    assert response.status_code == 401
    assert response.json()["code"] == "token_expired"


async def test_a_cached_token_is_not_accepted_under_other_keys(client, make_user, settings):
    from app.core.errors import InvalidToken
    from app.core.security import decode_access_token

    user = await make_user(Role.admin)
    token = _sign(_claims(user.id, settings), settings.jwt_secret)
    decode_access_token(settings, token)
    rotated = settings.model_copy(update={"jwt_secret": "x" * 40, "jwt_previous_secrets": []})
    with pytest.raises(InvalidToken):
        decode_access_token(rotated, token)
