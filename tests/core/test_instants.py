"""Instants: every one the API takes needs a UTC offset (a county in UTC+8 cannot tell what a
naive time means), and what is stored does not depend on the database's TimeZone."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from pydantic import BaseModel, TypeAdapter, ValidationError
from sqlalchemy import text
from sqlalchemy.engine import make_url

from app.auth.models import Role
from app.core.periods import current_period
from app.households.models import MemberEmployment, MemberIntent
from app.main import create_app
from app.visits.models import Visit
from tests.households.factories import PersonSpec, make_household
from tests.jobs.conftest import add_jobs
from tests.visits.test_visits import _body

VILLAGE_A = "450226100201"
NAIVE = "2026-11-20T10:30:00"


def _date_times(schema: dict[str, Any]) -> bool:
    """Whether a property's schema is (or may be) a date-time."""
    if schema.get("format") == "date-time":
        return True
    return any(_date_times(option) for option in schema.get("anyOf", []))


def _body_schemas(document: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """The component schemas request bodies use, and those they use in turn."""
    components = document["components"]["schemas"]
    seen: set[str] = set()
    pending = [
        body["schema"]
        for path in document["paths"].values()
        for operation in path.values()
        for body in operation.get("requestBody", {}).get("content", {}).values()
    ]
    while pending:
        schema = pending.pop()
        if isinstance(schema, dict):
            ref = schema.get("$ref")
            if ref and ref not in seen:
                seen.add(ref)
                component = components[ref.rsplit("/", 1)[-1]]
                yield component
                pending.append(component)
            pending.extend(schema.values())
        elif isinstance(schema, list):
            pending.extend(schema)


def _models() -> dict[str, type[BaseModel]]:
    """The app's pydantic models by schema title."""
    found: dict[str, type[BaseModel]] = {}
    pending: list[type[BaseModel]] = [BaseModel]
    while pending:
        cls = pending.pop()
        pending.extend(cls.__subclasses__())
        if cls.__module__.startswith("app."):
            found[cls.model_config.get("title") or cls.__name__] = cls
    return found


async def test_every_instant_in_a_request_body_needs_an_offset(app):
    models = _models()
    checked = []
    for schema in _body_schemas(app.openapi()):
        for name, prop in schema.get("properties", {}).items():
            if not _date_times(prop):
                continue
            model = models[schema["title"]]
            adapter = TypeAdapter(model.model_fields[name].annotation)
            with pytest.raises(ValidationError):
                adapter.validate_python(NAIVE)
            adapter.validate_python(NAIVE + "+08:00")
            checked.append(f"{model.__name__}.{name}")
    # The walk found them (it would pass vacuously if it found none).
    assert {"VisitIn.visited_at", "EmploymentIn.observed_at", "TrainingIn.starts_at"} <= set(
        checked
    )


async def test_every_instant_in_a_query_needs_an_offset(app, client, make_user, auth):
    headers = auth(await make_user(Role.admin))
    checked = []
    for path, operations in app.openapi()["paths"].items():
        for method, operation in operations.items():
            for parameter in operation.get("parameters", []):
                if parameter["in"] != "query" or not _date_times(parameter["schema"]):
                    continue
                assert method == "get" and "{" not in path, (method, path)
                response = await client.get(
                    path, params={parameter["name"]: NAIVE}, headers=headers
                )
                assert response.status_code == 422, (path, parameter["name"], response.text)
                assert response.json()["code"] == "validation_failed"
                checked.append((path, parameter["name"]))
    assert ("/api/v1/visits", "from") in checked


# --- The database in Asia/Shanghai -----------------------------------------------------------


@pytest.fixture
async def shanghai(app, settings, db) -> AsyncIterator[httpx.AsyncClient]:
    """A client of an app whose every database connection runs in TimeZone Asia/Shanghai
    (the database's default while the test runs), where a naive text time would be read 8
    hours off UTC."""
    name = make_url(settings.database_url).database
    await db.execute(text(f'ALTER DATABASE "{name}" SET "TimeZone" TO \'Asia/Shanghai\''))
    await db.commit()
    try:
        application = create_app(settings)
        async with application.router.lifespan_context(application):
            async with application.state.db.driver_connection() as connection:
                assert await connection.fetchval("SHOW TimeZone") == "Asia/Shanghai"
            async with application.state.db.engine.connect() as connection:
                assert (await connection.scalar(text("SHOW TimeZone"))) == "Asia/Shanghai"
            transport = httpx.ASGITransport(app=application)
            async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
                yield http
    finally:
        await db.execute(text(f'ALTER DATABASE "{name}" RESET "TimeZone"'))
        await db.commit()


async def test_instants_are_stored_right_with_the_database_in_shanghai(
    shanghai, make_user, auth, db, settings
):
    """PUT, visit and hire write through the same typed parameters, so the same instant is
    stored whatever the database's TimeZone."""
    headers = auth(await make_user(Role.coordinator, [VILLAGE_A]))
    home, (typed, visited, hired) = await make_household(
        db, settings, VILLAGE_A, [PersonSpec("韦强"), PersonSpec("韦梅"), PersonSpec("韦兰")]
    )
    put = await shanghai.put(
        f"/api/v1/members/{typed.id}/employment/2026-11",
        json={"status": "务工", "region": "县内", "observed_at": "2026-11-20T10:30:00+08:00"},
        headers=headers,
    )
    assert put.status_code == 200, put.text
    assert put.json()["observed_at"] == "2026-11-20T02:30:00Z"

    body = _body(
        home.id,
        visited_at="2026-11-20T10:30:00+08:00",
        member_updates=[
            {
                "member_id": str(visited.id),
                "employment": {
                    "status": "务工",
                    "region": "县内",
                    "observed_at": "2026-11-19T09:00:00+08:00",
                },
                "intent": {"intent": "外出"},
            }
        ],
    )
    posted = await shanghai.post("/api/v1/visits", json=body, headers=headers)
    assert posted.status_code == 201, posted.text

    (job,) = await add_jobs(db, 1, location_type="省外")
    pushed = await shanghai.post(
        "/api/v1/job-pushes",
        json={"job_id": str(job.id), "member_ids": [str(hired.id)]},
        headers=headers,
    )
    before = datetime.now(UTC)
    push_id = pushed.json()["items"][0]["id"]
    hire = await shanghai.patch(
        f"/api/v1/job-pushes/{push_id}", json={"result": "hired"}, headers=headers
    )
    assert hire.status_code == 200, hire.text

    at = datetime(2026, 11, 20, 2, 30, tzinfo=UTC)
    assert (await db.get(MemberEmployment, (typed.id, "2026-11"))).observed_at == at
    by_visit = await db.get(MemberEmployment, (visited.id, "2026-11"))
    assert by_visit.observed_at == datetime(2026, 11, 19, 1, 0, tzinfo=UTC)
    assert (await db.get(MemberIntent, visited.id)).observed_at == at
    assert (await db.get(Visit, posted.json()["id"])).visited_at == at
    by_hire = await db.get(MemberEmployment, (hired.id, current_period()))
    assert before - timedelta(minutes=1) < by_hire.observed_at < datetime.now(UTC)
    # Read back in the database's own terms, too.
    stored = await db.scalar(
        text(
            "SELECT observed_at = timestamptz '2026-11-20 02:30:00+00' FROM member_employment"
            " WHERE member_id = :id"
        ),
        {"id": typed.id},
    )
    assert stored is True
