"""Mass assignment: a body naming a field its operation does not take is refused (422 naming
the field), never half-applied. Sent to every operation with a JSON body, a field at a time,
each field one that no caller may set (an account's role and regions, ids, versions, audit and
review fields) and that the operation's schema does not declare."""

from __future__ import annotations

import uuid

import pytest

from app.auth.models import Role
from tests.security.openapi_requests import (
    SCHEMAS,
    Operation,
    body_schema,
    operations,
    request_for,
)
from tests.security.world import World

FORBIDDEN_FIELDS = (
    "role",
    "region_codes",
    "regions",
    "is_active",
    "user_id",
    "member_id",
    "household_id",
    "id",
    "version",
    "village_code",
    "region_code",
    "status",
    "created_by",
    "pushed_by",
    "coordinator_id",
    "created_at",
    "updated_at",
    "needs_review",
    "distance_m",
    "source",
    "round",
)

WITH_BODIES = [op for op in operations() if op.writes and body_schema(op) is not None]


def _world() -> World:
    """Ids for the body's fields: refused before any is looked up."""
    ids = {name: uuid.uuid4() for name in ("household", "member", "other", "job", "push")}
    return World(
        household_id=ids["household"],
        member_id=ids["member"],
        other_member_id=ids["other"],
        id_number="450226198506140011",
        job_id=ids["job"],
        push_id=ids["push"],
        training_id=uuid.uuid4(),
        session_id=uuid.uuid4(),
        visit_id=uuid.uuid4(),
        checkin_code="x.y",
        period="2026-11",
        coordinator_id=uuid.uuid4(),
        conflict_id=uuid.uuid4(),
        import_id=uuid.uuid4(),
        run_id=uuid.uuid4(),
        shared_training_id=uuid.uuid4(),
        shared_session_id=uuid.uuid4(),
    )


@pytest.mark.parametrize("operation", WITH_BODIES, ids=lambda op: op.id)
async def test_fields_no_caller_may_set_are_refused(operation: Operation, client, make_user, auth):
    schema = body_schema(operation)
    assert schema is not None
    declared = set(schema.get("properties", {}))
    request = request_for(operation, _world())
    callers = [
        auth(await make_user(role, regions))
        for role, regions in (
            (Role.coordinator, ["450226100201"]),
            (Role.manager, ["450226000000"]),
            (Role.villager, []),
        )
    ]
    for name in (f for f in FORBIDDEN_FIELDS if f not in declared):
        body = {**request.json, name: "450226100201" if "region" in name else "x"}
        for headers in callers:
            response = await client.request(
                request.method,
                request.url,
                params=request.params,
                headers={**request.headers, **headers},
                json=body,
            )
            if response.status_code != 403:  # a role the operation refuses outright
                break
        answer = f"{operation.id} with {name}: {response.status_code} {response.text[:300]}"
        assert response.status_code == 422, answer
        assert f"body.{name}" in {e["field"] for e in response.json()["errors"]}, answer


def _objects_in(schema: dict, seen: set[str]):
    """Every object schema a request body can hold, through references, unions and arrays."""
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        if name in seen:
            return
        seen.add(name)
        yield name, SCHEMAS[name]
        yield from _objects_in(SCHEMAS[name], seen)
        return
    for key in ("anyOf", "oneOf", "allOf"):
        for branch in schema.get(key, []):
            yield from _objects_in(branch, seen)
    nested_schemas = [*schema.get("properties", {}).values()]
    if "items" in schema:
        nested_schemas.append(schema["items"])
    for nested in nested_schemas:
        yield from _objects_in(nested, seen)


def test_every_json_body_refuses_fields_it_does_not_declare():
    """A body schema added without `extra="forbid"` fails here, nested ones included."""
    lenient = set()
    for operation in WITH_BODIES:
        content = operation.spec["requestBody"]["content"]["application/json"]
        for name, schema in _objects_in(content["schema"], set()):
            if schema.get("type") == "object" and schema.get("additionalProperties") is not False:
                lenient.add(name)
    assert not lenient, f"request bodies accepting undeclared fields: {sorted(lenient)}"
