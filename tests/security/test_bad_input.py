"""Bad input is refused at the edge with a 422 naming the field (or the cursor's 400, the
token's 401), never a 500: NUL and other control characters, instants out of range, numbers
for instants, `null` for a required column, overlong list items, malformed cursors and tokens,
and whatever value the database still refuses."""

from __future__ import annotations

import base64
import json
import uuid
from datetime import UTC, datetime

import httpx
import jwt
import pytest
from fastapi import FastAPI
from sqlalchemy import text

from app.auth.models import Role
from app.core.error_handlers import install_error_handlers
from app.core.security import JWT_ALGORITHM
from tests.households.factories import PersonSpec, make_household
from tests.jobs.conftest import job_body

VILLAGE_A = "450226100201"
COUNTY = "450226000000"
PROBLEM = "application/problem+json"


def _fields(response: httpx.Response) -> set[str]:
    assert response.headers["content-type"].startswith(PROBLEM), response.text
    return {error["field"] for error in response.json().get("errors", [])}


@pytest.fixture
async def manager_headers(make_user, auth):
    return auth(await make_user(Role.manager, [COUNTY]))


@pytest.mark.parametrize("value", ["普工\x00", "普工\x07", "普工\x85", "普工\ud800", "普\n工"])
async def test_control_characters_in_a_line_are_refused(client, manager_headers, value):
    # Sent as JSON escapes (`\\u0000`, `\\ud800`): a lone surrogate has no UTF-8 encoding.
    response = await client.post(
        "/api/v1/jobs",
        content=json.dumps(job_body(title=value)),
        headers={**manager_headers, "Content-Type": "application/json"},
    )
    assert response.status_code == 422
    assert "body.title" in _fields(response)


async def test_multiline_text_keeps_line_breaks_and_refuses_nul(client, manager_headers):
    kept = await client.post(
        "/api/v1/jobs", json=job_body(requirements="18-50 岁\n\t能吃苦"), headers=manager_headers
    )
    assert kept.status_code == 201, kept.text
    refused = await client.post(
        "/api/v1/jobs", json=job_body(requirements="18-50\x00"), headers=manager_headers
    )
    assert refused.status_code == 422
    assert "body.requirements" in _fields(refused)


@pytest.mark.parametrize("field", ["username", "password"])
async def test_nul_in_the_token_form_is_refused_unauthenticated(client, field):
    form = {"grant_type": "password", "username": "someone", "password": "secret"}
    form[field] = form[field] + "\x00"
    response = await client.post("/api/v1/auth/token", data=form)
    assert response.status_code == 422
    assert f"body.{field}" in _fields(response)


async def test_list_items_longer_than_their_column_are_refused(client, manager_headers):
    response = await client.post(
        "/api/v1/jobs", json=job_body(skills=["焊" * 33]), headers=manager_headers
    )
    assert response.status_code == 422
    assert "body.skills.0" in _fields(response)


@pytest.fixture
async def household(db, settings):
    return await make_household(db, settings, VILLAGE_A, [PersonSpec("韦强")])


def _visit(household_id, visited_at):
    return {
        "id": str(uuid.uuid4()),
        "household_id": str(household_id),
        "visited_at": visited_at,
        "method": "in_person",
    }


@pytest.mark.parametrize(
    "visited_at",
    [
        "0001-01-01T00:00:00+14:00",  # overflows when converted to UTC
        "9999-12-31T23:59:59-14:00",
        "2026-11-20T10:30:00+15:00",  # no such offset
        "2026-11-20T10:30:00-23:59",
        "1800-01-01T00:00:00+08:00",
        1_700_000_000,  # a number is not an instant
        "1700000000",
        "2026-11-20T10:30:00",  # no offset
    ],
)
async def test_instants_out_of_range_are_refused(client, make_user, auth, household, visited_at):
    (home, _), headers = household, auth(await make_user(Role.coordinator, [VILLAGE_A]))
    response = await client.post(
        "/api/v1/visits", json=_visit(home.id, visited_at), headers=headers
    )
    assert response.status_code == 422
    assert "body.visited_at" in _fields(response)


@pytest.mark.parametrize("value", ["0001-01-01T00:00:00+14:00", "2026-11-01T00:00:00+15:00", "0"])
async def test_instant_query_parameters_are_bounded(client, make_user, auth, value):
    headers = auth(await make_user(Role.coordinator, [VILLAGE_A]))
    response = await client.get("/api/v1/visits", params={"from": value}, headers=headers)
    assert response.status_code == 422
    assert "query.from" in _fields(response)


@pytest.mark.parametrize("field", ["name", "relation", "labour_type", "skills", "in_school"])
async def test_null_for_a_required_column_is_refused(client, make_user, auth, household, field):
    (_, [member]), headers = household, auth(await make_user(Role.coordinator, [VILLAGE_A]))
    response = await client.patch(
        f"/api/v1/members/{member.id}", json={field: None, "version": 1}, headers=headers
    )
    assert response.status_code == 422
    assert f"body.{field}" in _fields(response)


async def test_null_phone_still_clears_it(client, make_user, auth, household):
    (_, [member]), headers = household, auth(await make_user(Role.coordinator, [VILLAGE_A]))
    response = await client.patch(
        f"/api/v1/members/{member.id}", json={"phone": None, "version": 1}, headers=headers
    )
    assert response.status_code == 200, response.text


def _cursor(key) -> str:
    return base64.urlsafe_b64encode(json.dumps(key).encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    "key",
    [
        ["0001-01-01T00:00:00+14:00", str(uuid.uuid4())],
        ["2026-11-01T00:00:00", str(uuid.uuid4())],
        [10**30, str(uuid.uuid4())],
        ["\x00", "\x00"],
    ],
)
async def test_malformed_cursors_are_refused(client, make_user, auth, key):
    headers = auth(await make_user(Role.manager, [COUNTY]))
    for path in ("/api/v1/visits", "/api/v1/jobs", "/api/v1/trainings"):
        response = await client.get(path, params={"cursor": _cursor(key)}, headers=headers)
        assert response.status_code in (400, 422), (path, response.text)
        assert response.headers["content-type"].startswith(PROBLEM)


async def test_a_signed_token_whose_exp_overflows_is_refused(client, settings, make_user):
    user = await make_user(Role.coordinator, [VILLAGE_A])
    now = int(datetime.now(UTC).timestamp())
    kid, key = next(iter(settings.jwt_keys.items()))
    token = jwt.encode(
        {
            "sub": str(user.id),
            "role": user.role,
            "iat": now,
            "exp": 10**20,
            "aud": settings.jwt_audience,
            "iss": settings.jwt_issuer,
        },
        key,
        algorithm=JWT_ALGORITHM,
        headers={"kid": kid},
    )
    response = await client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401
    assert response.headers["content-type"].startswith(PROBLEM)


async def test_a_value_the_database_refuses_is_a_422(app):
    # Whatever still slips past the edge: PostgreSQL's data exceptions (SQLSTATE class 22)
    # are the client's value, not a fault of the server.
    probe = FastAPI()
    install_error_handlers(probe)

    @probe.get("/cast")
    async def cast(value: str) -> dict[str, int]:
        async with app.state.db.sessionmaker() as session:
            number = await session.scalar(
                text("SELECT CAST(CAST(:value AS text) AS integer)"), {"value": value}
            )
        return {"number": number}

    transport = httpx.ASGITransport(app=probe, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://probe") as http:
        assert (await http.get("/cast", params={"value": "12"})).json() == {"number": 12}
        for value in ("99999999999", "x", "1\x00"):
            response = await http.get("/cast", params={"value": value})
            assert response.status_code == 422, (value, response.text)
            assert response.headers["content-type"].startswith(PROBLEM)


@pytest.mark.parametrize(
    "content", [b'{"title": "\xff\xfe"}', b"[" * 10_000 + b"]" * 10_000], ids=["utf8", "deep"]
)
async def test_an_unreadable_body_is_a_422(client, manager_headers, content):
    response = await client.post(
        "/api/v1/jobs",
        content=content,
        headers={**manager_headers, "Content-Type": "application/json"},
    )
    assert response.status_code == 422
    assert "body" in _fields(response)


@pytest.mark.parametrize("valid_until", [0, 1_700_000_000, "0001-01-01", "9999-12-31"])
async def test_days_are_text_and_in_range(client, manager_headers, valid_until):
    response = await client.post(
        "/api/v1/jobs", json=job_body(valid_until=valid_until), headers=manager_headers
    )
    assert response.status_code == 422
    assert "body.valid_until" in _fields(response)
