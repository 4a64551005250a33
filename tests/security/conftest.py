"""The app's OpenAPI document as the security tests read it, values its schemas accept, and
objects of a county for requests to reach past "not found"."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from app.auth.models import Role
from app.core.periods import current_period, today
from tests.households.factories import PersonSpec, make_household

DOCUMENT = json.loads(
    (Path(__file__).parents[2] / "openapi" / "openapi.json").read_text(encoding="utf-8")
)
SCHEMAS = DOCUMENT["components"]["schemas"]
COUNTY = "450226000000"
TOWNSHIP = "450226100000"
VILLAGE = "450226100201"


def resolve(schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = SCHEMAS[schema["$ref"].rsplit("/", 1)[1]]
    return schema


def variant(schema: dict[str, Any]) -> dict[str, Any]:
    schema = resolve(schema)
    for variant in schema.get("anyOf", schema.get("oneOf", [])):
        if resolve(variant).get("type") != "null":
            return resolve(variant)
    return schema


_PATTERNS = {
    r"^\d{12}$": TOWNSHIP,
    r"^1\d{10}$": "13800138000",
}


def valid(schema: dict[str, Any], name: str = "") -> Any:
    """A value that the schema accepts (a best guess, enough to reach past validation)."""
    schema = variant(schema)
    if "enum" in schema:
        return schema["enum"][0]
    if "const" in schema:
        return schema["const"]
    kind = schema.get("type")
    if kind == "object" or "properties" in schema:
        return {
            key: valid(field, key)
            for key, field in schema.get("properties", {}).items()
            if key in schema.get("required", [])
        }
    if kind == "array":
        return [valid(schema.get("items", {})) for _ in range(schema.get("minItems", 0))]
    if kind == "integer":
        return max(schema.get("minimum", 1), 1)
    if kind == "number":
        return max(schema.get("minimum", 1), 1)
    if kind == "boolean":
        return False
    if kind == "string":
        fmt = schema.get("format")
        if fmt == "uuid":
            return str(uuid.uuid4())
        if fmt == "date-time":
            # An end after its start.
            return f"2026-11-{21 if name.startswith('ends') else 20}T10:30:00+08:00"
        if fmt == "date":
            return (today() + timedelta(days=30)).isoformat()
        if "pattern" in schema:
            return _PATTERNS.get(schema["pattern"], schema.get("examples", ["2026-11"])[0])
        return "x" * max(schema.get("minLength", 1), 4)
    return "x"


@pytest.fixture
async def known(client, db, settings, staff) -> dict[str, Any]:
    """Objects in the manager's county, so a hostile body reaches past "not found": the ids
    the operations take by these names, in the path or in the body."""
    _, [member] = await make_household(db, settings, VILLAGE, [PersonSpec("韦强")])
    job = await client.post("/api/v1/jobs", json=valid(SCHEMAS["JobIn"]), headers=staff)
    training = await client.post(
        "/api/v1/trainings", json=valid(SCHEMAS["TrainingIn"]), headers=staff
    )
    assert job.status_code == 201, job.text
    assert training.status_code == 201, training.text
    ids = {
        "member_id": str(member.id),
        "member_ids": [str(member.id)],
        "household_id": str(member.household_id),
        "job_id": job.json()["id"],
        "training_id": training.json()["id"],
        "code": VILLAGE,
        "period": current_period(),
    }
    push = await client.post(
        "/api/v1/job-pushes",
        json={"job_id": ids["job_id"], "member_ids": ids["member_ids"]},
        headers=staff,
    )
    if push.status_code == 201:
        ids["push_id"] = push.json()["items"][0]["id"]
    return ids


@pytest.fixture
async def staff(make_user, auth) -> dict[str, str]:
    return auth(await make_user(Role.manager, [COUNTY]))
