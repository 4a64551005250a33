"""The published contract, checked over every operation of `openapi/openapi.json`: request
bodies refuse unknown fields, and the 400s and 428s an operation answers are documented."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from app.cli import OPENAPI_PATH

DOCUMENT = json.loads(OPENAPI_PATH.read_text(encoding="utf-8"))
SCHEMAS = DOCUMENT["components"]["schemas"]


def operations() -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in DOCUMENT["paths"].items():
        for method, operation in item.items():
            yield path, method, operation


def object_schemas(node: Any, seen: set[str]) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every object schema reachable from `node`, following references once each."""
    if isinstance(node, list):
        for item in node:
            yield from object_schemas(item, seen)
    if not isinstance(node, dict):
        return
    ref = node.get("$ref")
    if isinstance(ref, str):
        name = ref.rsplit("/", 1)[-1]
        if name not in seen:
            seen.add(name)
            schema = SCHEMAS[name]
            if schema.get("type") == "object" or "properties" in schema:
                yield name, schema
            yield from object_schemas(schema, seen)
        return
    for value in node.values():
        yield from object_schemas(value, seen)


def test_every_request_body_refuses_unknown_fields():
    bodies = [op["requestBody"] for _, _, op in operations() if "requestBody" in op]
    assert bodies
    found = dict(object_schemas(bodies, set()))
    assert "VisitIn" in found and "Location" in found  # nested objects too
    open_ended = sorted(
        name for name, s in found.items() if s.get("additionalProperties") is not False
    )
    assert open_ended == []


def test_if_match_operations_document_400_412_and_428():
    guarded = [
        (path, op)
        for path, _, op in operations()
        if any(p["name"].lower() == "if-match" for p in op.get("parameters", []))
    ]
    assert guarded
    for path, op in guarded:
        assert {"400", "412", "428"} <= set(op["responses"]), path


async def test_unknown_body_field_is_refused(client):
    response = await client.post(
        "/api/v1/auth/refresh", json={"refresh_token": "x", "refresh_tokne": "y"}
    )
    assert response.status_code == 422
    assert [e["field"] for e in response.json()["errors"]] == ["body.refresh_tokne"]
    form = await client.post(
        "/api/v1/auth/token",
        data={"grant_type": "password", "username": "a", "password": "b", "role": "admin"},
    )
    assert form.status_code == 422
    assert [e["field"] for e in form.json()["errors"]] == ["body.role"]


async def test_oauth2_scope_is_accepted_and_ignored(client):
    response = await client.post(
        "/api/v1/auth/token",
        data={"grant_type": "password", "username": "nobody", "password": "x", "scope": ""},
    )
    assert response.status_code == 401


async def test_unreadable_body_is_a_documented_422(client):
    """Bytes that are not UTF-8 are a body the operation cannot take, as a malformed one is:
    422 `validation_failed` naming the body, which every operation with a body documents."""
    response = await client.post(
        "/api/v1/auth/refresh",
        content=b'{"refresh_token": "\xff"}',
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    documented = DOCUMENT["paths"]["/api/v1/auth/refresh"]["post"]["responses"]["422"]
    codes = documented["content"]["application/problem+json"]["schema"]["allOf"][1]
    assert response.json()["code"] in codes["properties"]["code"]["enum"]
