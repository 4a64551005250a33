"""The OpenAPI document is complete enough for the front end to build against, and shaped for a
generated client: short stable operation ids, clean schema names, every problem `code`
enumerated per operation, every list a page."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.routing import APIRoute

from app.cli import OPENAPI_PATH, openapi_document
from app.core.auth import Caller
from app.core.caller import Role
from app.core.errors import (
    PROBLEM_MEDIA_TYPE,
    AppError,
    Forbidden,
    NotFound,
    ValidationFailed,
    merge_responses,
    problem_responses,
)
from app.main import create_app

OPERATION_ID = re.compile(r"^[a-z]+(-[a-z0-9]+)+$")
SCHEMA_NAME = re.compile(r"^[A-Z][A-Za-z0-9]*$")
PUBLIC = {"/api/v1/auth/wechat/login", "/api/v1/auth/token", "/api/v1/auth/refresh"}


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    return json.loads(openapi_document())


def _operations(document: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            yield f"{method.upper()} {path}", operation


def _resolve(document: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = document["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return schema


def _codes(response: dict[str, Any]) -> list[str]:
    """The `code`s a problem response enumerates."""
    (narrowing,) = [
        part
        for part in response["content"][PROBLEM_MEDIA_TYPE]["schema"]["allOf"]
        if "properties" in part
    ]
    return narrowing["properties"]["code"]["enum"]


def _all_codes() -> set[str]:
    def walk(cls: type[AppError]) -> Iterator[type[AppError]]:
        yield cls
        for sub in cls.__subclasses__():
            yield from walk(sub)

    return {cls.code for cls in walk(AppError)}


def test_every_operation_is_documented(document):
    assert "Problem" in document["components"]["schemas"]
    for where, operation in _operations(document):
        assert operation.get("summary"), where
        assert operation.get("tags"), where
        assert operation.get("description"), where
        assert [s for s in operation["responses"] if s.startswith("2")], where
        if " /api/v1" in where:
            assert "422" in operation["responses"] and "500" in operation["responses"], where
            assert _codes(operation["responses"]["500"]) == ["internal_error"], where


def test_operation_ids_are_tag_and_name_and_unique(document):
    ids = [operation["operationId"] for _, operation in _operations(document)]
    for where, operation in _operations(document):
        assert OPERATION_ID.match(operation["operationId"]), where
        assert operation["operationId"].startswith(operation["tags"][0] + "-"), where
    assert len(ids) == len(set(ids)), sorted(i for i in ids if ids.count(i) > 1)
    # A few the mini-program's client already calls: renaming them breaks it.
    operations = dict(_operations(document))
    assert operations["GET /api/v1/households"]["operationId"] == "households-list"
    assert operations["PUT /api/v1/members/{member_id}/employment/{period}"]["operationId"] == (
        "households-put-employment"
    )
    assert operations["POST /api/v1/auth/token"]["operationId"] == "auth-token"
    assert operations["POST /api/v1/job-pushes"]["operationId"] == "jobs-push"


def test_schema_names_carry_no_generated_noise(document):
    names = list(document["components"]["schemas"])
    assert [name for name in names if not SCHEMA_NAME.match(name)] == []
    # FastAPI's own 422 shape never appears: every 422 is a problem.
    assert "HTTPValidationError" not in names


def test_no_operation_answers_a_bare_array_and_lists_are_pages(document):
    for where, operation in _operations(document):
        for status, response in operation["responses"].items():
            if not status.startswith("2"):
                continue
            for media in response.get("content", {}).values():
                schema = _resolve(document, media.get("schema", {}))
                assert schema.get("type") != "array", f"{where} {status}"
                if where.startswith("GET ") and "items" in schema.get("properties", {}):
                    assert "next_cursor" in schema["properties"], where
                    assert set(schema["required"]) >= {"items", "next_cursor"}, where


def test_problem_responses_enumerate_their_codes(document):
    known = _all_codes()
    for where, operation in _operations(document):
        for status, response in operation["responses"].items():
            if status[0] not in "45":
                continue
            assert list(response["content"]) == [PROBLEM_MEDIA_TYPE], f"{where} {status}"
            codes = _codes(response)
            assert codes and len(codes) == len(set(codes)), f"{where} {status}"
            assert set(codes) <= known, f"{where} {status}"
            for code in codes:
                assert f"`{code}`" in response["description"], f"{where} {status} {code}"


def test_every_422_lists_validation_failed_beside_its_own_codes(document):
    for where, operation in _operations(document):
        if "422" in operation["responses"]:
            assert "validation_failed" in _codes(operation["responses"]["422"]), where
    operations = dict(_operations(document))
    roll = operations["POST /api/v1/trainings/{training_id}/attendance"]["responses"]
    assert _codes(roll["422"]) == ["validation_failed", "member_not_enrolled"]
    matches = operations["GET /api/v1/members/{member_id}/job-matches"]["responses"]
    assert _codes(matches["422"]) == ["validation_failed", "not_labour_force"]


def test_an_operations_own_problems_add_to_its_routers(document):
    operations = dict(_operations(document))
    checkin = operations["POST /api/v1/me/checkins"]["responses"]
    assert _codes(checkin["403"]) == ["forbidden", "not_enrolled"]
    assert _codes(checkin["401"]) == ["unauthorized", "invalid_token", "token_expired"]


def test_protected_operations_document_401(document):
    for where, operation in _operations(document):
        path = where.split(" ", 1)[1]
        if not path.startswith("/api/v1") or path in PUBLIC:
            continue
        assert "401" in operation["responses"], where
        assert "unauthorized" in _codes(operation["responses"]["401"]), where


def test_an_operation_documents_403_exactly_when_its_caller_restricts_roles(document):
    operations = dict(_operations(document))
    for route in create_app().routes:
        if not isinstance(route, APIRoute) or not route.path_format.startswith("/api/v1"):
            continue
        callers = [d.call for d in route.dependant.dependencies if isinstance(d.call, Caller)]
        restricted = any(caller.roles != frozenset(Role) for caller in callers)
        for method in route.methods:
            responses = operations[f"{method} {route.path_format}"]["responses"]
            forbidden = "403" in responses and "forbidden" in _codes(responses["403"])
            assert forbidden == restricted, f"{method} {route.path_format}"


def test_paged_operations_document_invalid_cursor(document):
    for where, operation in _operations(document):
        names = {parameter["name"] for parameter in operation.get("parameters", [])}
        if "cursor" in names:
            assert "invalid_cursor" in _codes(operation["responses"]["400"]), where


def test_merging_pools_problems_of_one_status_and_replaces_the_rest():
    shared = {**problem_responses(ValidationFailed, Forbidden), 200: {"description": "a"}}
    own = {**problem_responses(NotFound, ValidationFailed), 200: {"description": "b"}}
    merged = merge_responses(shared, own)
    assert [e.code for e in merged[422].errors] == ["validation_failed"]
    assert [e.code for e in merged[403].errors] == ["forbidden"]
    assert [e.code for e in merged[404].errors] == ["not_found"]
    assert merged[200] == {"description": "b"}


def test_committed_document_is_current():
    assert OPENAPI_PATH.read_text(encoding="utf-8") == openapi_document(), (
        "openapi/openapi.json is stale: run `wengang openapi`"
    )
