from __future__ import annotations

from app.auth.models import AccountKind, Role
from tests.conftest import TEST_PASSWORD

TOKEN_URL = "/api/v1/auth/token"


async def test_password_grant_issues_tokens(client, make_user):
    await make_user(Role.manager, ["450226100000"], username="guyi")
    response = await client.post(
        TOKEN_URL, data={"grant_type": "password", "username": "guyi", "password": TEST_PASSWORD}
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == 15 * 60
    assert body["user"]["role"] == "manager"
    assert body["user"]["region_codes"] == ["450226100000"]
    me = await client.get("/api/v1/me", headers={"Authorization": f"Bearer {body['access_token']}"})
    assert me.json()["username"] == "guyi"


async def test_username_is_case_insensitive(client, make_user):
    await make_user(Role.admin, username="Admin")
    response = await client.post(
        TOKEN_URL, data={"grant_type": "password", "username": "admin", "password": TEST_PASSWORD}
    )
    assert response.status_code == 200


async def test_wrong_password_and_unknown_user_look_alike(client, make_user):
    await make_user(Role.admin, username="root")
    wrong = await client.post(
        TOKEN_URL, data={"grant_type": "password", "username": "root", "password": "nope"}
    )
    unknown = await client.post(
        TOKEN_URL, data={"grant_type": "password", "username": "ghost", "password": "nope"}
    )
    for response in (wrong, unknown):
        assert response.status_code == 401
        assert response.headers["content-type"].startswith("application/problem+json")
    assert wrong.json()["code"] == unknown.json()["code"] == "invalid_credentials"
    assert wrong.json()["detail"] == unknown.json()["detail"]


async def test_client_credentials_grant(client, make_user):
    await make_user(
        Role.manager,
        ["450226000000"],
        username="county-bi",
        password="s3cret-value",
        kind=AccountKind.client,
    )
    response = await client.post(
        TOKEN_URL,
        data={
            "grant_type": "client_credentials",
            "client_id": "county-bi",
            "client_secret": "s3cret-value",
        },
    )
    assert response.status_code == 200, response.text
    assert response.json()["user"]["kind"] == "client"
    wrong = await client.post(
        TOKEN_URL,
        data={"grant_type": "client_credentials", "client_id": "county-bi", "client_secret": "x"},
    )
    assert wrong.status_code == 401


async def test_grants_do_not_cross(client, make_user):
    """A client secret is not a password, and a person cannot use client credentials."""
    await make_user(
        Role.manager, ["450226000000"], username="bi", password="secret-1", kind=AccountKind.client
    )
    await make_user(Role.admin, username="person", password="secret-2")
    as_password = await client.post(
        TOKEN_URL, data={"grant_type": "password", "username": "bi", "password": "secret-1"}
    )
    as_client = await client.post(
        TOKEN_URL,
        data={
            "grant_type": "client_credentials",
            "client_id": "person",
            "client_secret": "secret-2",
        },
    )
    assert as_password.status_code == 401
    assert as_client.status_code == 401


async def test_unknown_grant_and_missing_fields(client):
    unknown = await client.post(TOKEN_URL, data={"grant_type": "implicit"})
    assert unknown.status_code == 422
    assert unknown.json()["code"] == "validation_failed"
    assert unknown.json()["errors"][0]["field"] == "body.grant_type"
    missing = await client.post(TOKEN_URL, data={"grant_type": "password", "username": "x"})
    assert missing.status_code == 422


async def test_account_throttled_after_repeated_failures(client, make_user, settings):
    await make_user(Role.admin, username="target")
    for _ in range(settings.login_account_max_failures):
        response = await client.post(
            TOKEN_URL, data={"grant_type": "password", "username": "target", "password": "guess"}
        )
        assert response.status_code == 401
    # Even the right password is refused while the account is locked.
    locked = await client.post(
        TOKEN_URL,
        data={"grant_type": "password", "username": "target", "password": TEST_PASSWORD},
    )
    assert locked.status_code == 429
    assert locked.headers["content-type"].startswith("application/problem+json")
    assert locked.json()["code"] == "too_many_login_attempts"
    assert 0 < int(locked.headers["retry-after"]) <= settings.login_account_window_seconds


async def test_success_resets_account_failures(client, make_user, settings):
    await make_user(Role.admin, username="forgetful")
    for _ in range(settings.login_account_max_failures - 1):
        await client.post(
            TOKEN_URL, data={"grant_type": "password", "username": "forgetful", "password": "x"}
        )
    ok = await client.post(
        TOKEN_URL,
        data={"grant_type": "password", "username": "forgetful", "password": TEST_PASSWORD},
    )
    assert ok.status_code == 200
    again = await client.post(
        TOKEN_URL, data={"grant_type": "password", "username": "forgetful", "password": "x"}
    )
    assert again.status_code == 401


async def test_address_throttled_across_accounts(client, settings):
    statuses = []
    for attempt in range(settings.login_address_max_attempts + 1):
        response = await client.post(
            TOKEN_URL,
            data={"grant_type": "password", "username": f"u{attempt}", "password": "x"},
        )
        statuses.append(response.status_code)
    assert statuses[:-1] == [401] * settings.login_address_max_attempts
    assert statuses[-1] == 429
    assert int(response.headers["retry-after"]) >= 1
