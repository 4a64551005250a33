"""Knowing the caller: one dependency node per endpoint (`app.core.auth.Caller`) behind the role
aliases; 401 without a valid caller, 403 outside the endpoint's roles; the bearer scheme in the
OpenAPI document; the system caller jobs act as."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import jwt
import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute
from fastapi.security.base import SecurityBase
from sqlalchemy import text

from app.core.auth import SCHEME_NAME, TOKEN_URL, Admin, Caller
from app.core.caller import Principal, Role
from app.core.error_handlers import install_error_handlers
from app.core.scope import ScopeKind
from tests.conftest import TEST_PASSWORD

VILLAGE = "450226100201"
COUNTY = "450226000000"

# A sample of endpoints, one or more per alias: (method, path, roles admitted).
STAFF = {Role.coordinator, Role.manager, Role.admin}
ENDPOINTS = [
    ("GET", "/api/v1/me", set(Role)),
    ("GET", "/api/v1/regions", set(Role)),
    ("GET", "/api/v1/households", set(Role)),
    ("GET", "/api/v1/visits", STAFF),
    ("GET", "/api/v1/jobs", STAFF),
    ("GET", "/api/v1/trainings", STAFF),
    ("GET", "/api/v1/job-pushes/below-policy", STAFF),
    ("GET", "/api/v1/audit-events", {Role.manager, Role.admin}),
    ("GET", "/api/v1/me/job-pushes", {Role.villager}),
]
REGIONS = {
    Role.villager: [],
    Role.coordinator: [VILLAGE],
    Role.manager: [COUNTY],
    Role.admin: [],
}
# Sign-in and token endpoints: the only operations of the API without a caller.
ANONYMOUS = {
    ("post", "/api/v1/auth/token"),
    ("post", "/api/v1/auth/refresh"),
    ("post", "/api/v1/auth/wechat/login"),
}


@pytest.fixture
async def callers(make_user, auth) -> dict[Role, dict[str, str]]:
    """A signed-in account of every role: its Authorization header."""
    return {role: auth(await make_user(role, REGIONS[role])) for role in Role}


@pytest.mark.parametrize(("method", "path", "admitted"), ENDPOINTS)
async def test_every_role_on_a_sample_of_endpoints(client, callers, method, path, admitted):
    """Missing token: 401; each role outside the endpoint's: 403; each role in it: 2xx."""
    anonymous = await client.request(method, path)
    assert anonymous.status_code == 401, anonymous.text
    assert anonymous.json()["code"] == "unauthorized"
    assert anonymous.headers["www-authenticate"] == "Bearer"
    for role, headers in callers.items():
        response = await client.request(method, path, headers=headers)
        if role in admitted:
            assert 200 <= response.status_code < 300, (role, response.text)
        else:
            assert response.status_code == 403, (role, response.text)
            assert response.json()["code"] == "forbidden"


def _token(settings, user, **changes: Any) -> str:
    now = datetime.now(UTC)
    claims = {
        "sub": str(user.id),
        "role": user.role,
        "iss": settings.jwt_issuer,
        "aud": settings.jwt_audience,
        "iat": now,
        "exp": now + timedelta(minutes=5),
        **changes,
    }
    return jwt.encode(
        claims, settings.jwt_secret, algorithm="HS256", headers={"kid": settings.jwt_current_kid}
    )


async def test_a_caller_without_a_valid_token_is_401_before_its_role(
    client, make_user, settings, db
):
    """Every kind of invalid caller answers 401, also on an endpoint its role could not use."""
    villager = await make_user(Role.villager)
    gone = await make_user(Role.coordinator, [VILLAGE])
    await db.execute(text("DELETE FROM user_account WHERE id = :id"), {"id": gone.id})
    off = await make_user(Role.coordinator, [VILLAGE])
    await db.execute(
        text("UPDATE user_account SET is_active = false WHERE id = :id"), {"id": off.id}
    )
    await db.commit()
    past = datetime.now(UTC) - timedelta(hours=1)
    cases = {
        "not bearer": ("Basic Y291bnR5OndlbmdhbmctY291bnR5", "unauthorized"),
        "empty bearer": ("Bearer ", "unauthorized"),
        "not a token": ("Bearer not-a-token", "invalid_token"),
        "forged": (f"Bearer {_token(settings, villager)}x", "invalid_token"),
        "expired": (
            f"Bearer {_token(settings, villager, iat=past, exp=past + timedelta(minutes=5))}",
            "token_expired",
        ),
        "account gone": (f"Bearer {_token(settings, gone)}", "invalid_token"),
        "deactivated": (f"Bearer {_token(settings, off)}", "unauthorized"),
    }
    for name, (authorization, code) in cases.items():
        response = await client.get("/api/v1/jobs", headers={"Authorization": authorization})
        assert response.status_code == 401, (name, response.text)
        assert response.json()["code"] == code, name


async def test_the_admin_alias(app, make_user, auth):
    """`Admin` (no endpoint of ours needs it yet) admits admins only."""
    probe = FastAPI()
    probe.state.settings, probe.state.accounts = app.state.settings, app.state.accounts
    install_error_handlers(probe)

    @probe.get("/probe")
    async def admins_only(caller: Admin) -> dict[str, str]:
        return {"role": caller.role}

    transport = httpx.ASGITransport(app=probe)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        assert (await http.get("/probe")).status_code == 401
        for role in Role:
            headers = auth(await make_user(role, REGIONS[role]))
            response = await http.get("/probe", headers=headers)
            assert response.status_code == (200 if role is Role.admin else 403), role


def test_each_endpoint_resolves_one_node_for_its_caller(app):
    """The caller is one dependency with no dependencies of its own: every endpoint that
    knows its caller has exactly one `Caller`, and nothing else reads the token."""
    for route in app.routes:
        if not isinstance(route, APIRoute):
            continue
        nodes = route.dependant.dependencies
        callers = [d for d in nodes if isinstance(d.call, Caller)]
        # Nothing else reads the token: no other security scheme among the dependencies.
        assert not [d for d in nodes if isinstance(d.call, SecurityBase) and d not in callers]
        key = (next(iter(route.methods)).lower(), route.path)
        if key in ANONYMOUS or not route.path.startswith("/api/"):
            assert not callers, key
            continue
        assert len(callers) == 1, key
        assert callers[0].dependencies == [], key


async def test_the_openapi_document_declares_the_bearer_scheme_on_every_operation(client):
    document = (await client.get("/openapi.json")).json()
    assert document["components"]["securitySchemes"] == {
        SCHEME_NAME: {
            "type": "oauth2",
            "description": "Access JWT from any of the login endpoints.",
            "flows": {"password": {"scopes": {}, "tokenUrl": TOKEN_URL}},
        }
    }
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            if (method, path) in ANONYMOUS or not path.startswith("/api/"):
                assert "security" not in operation, (method, path)
                continue
            assert operation["security"] == [{SCHEME_NAME: []}], (method, path)
            assert {"401", "422"} <= set(operation["responses"]), (method, path)


async def test_the_authorize_button_flow(client, make_user):
    """What `/docs` does on Authorize: the password flow's form to the scheme's token URL,
    then the access token as a bearer token."""
    await make_user(Role.coordinator, [VILLAGE], username="dazhai")
    document = (await client.get("/openapi.json")).json()
    flow = document["components"]["securitySchemes"][SCHEME_NAME]["flows"]["password"]
    login = await client.post(
        flow["tokenUrl"],
        data={"grant_type": "password", "username": "dazhai", "password": TEST_PASSWORD},
    )
    assert login.status_code == 200, login.text
    assert login.json()["token_type"].lower() == "bearer"
    headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
    me = await client.get("/api/v1/me", headers=headers)
    assert me.status_code == 200 and me.json()["username"] == "dazhai"


def test_the_system_caller():
    """Jobs act as the system: everything in scope, audited as `system` with no account and
    the job's name as the request id."""
    system = Principal.system("jobs.close_expired")
    assert system.is_system
    assert system.scope.kind is ScopeKind.everything
    assert system.region_codes == ()
    actor = system.actor
    assert (actor.user_id, actor.role, actor.request_id, actor.client_address) == (
        None,
        "system",
        "jobs.close_expired",
        None,
    )
