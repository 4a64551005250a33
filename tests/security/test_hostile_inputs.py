"""A fixed list of hostile inputs sent to every write operation of `openapi/openapi.json`, as a
county manager and unauthenticated: never a 500, never a hang, every error problem+json.

Each operation gets a body valid by its schema, then one hostile value at a time in each of its
fields (control characters, NUL, lone surrogates, huge strings and numbers, instants out of
range, null, the wrong type), and whole hostile bodies (deep nesting, invalid JSON, the wrong
content type). A new operation is covered the day it is in the document."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.security.openapi_requests import DOCUMENT, resolve, valid

PROBLEM = "application/problem+json"
# One request, however hostile, answers well within this.
TIMEOUT = 10.0

HOSTILE_STRINGS = [
    "\x00",
    "a\x00b",
    "\x01\x02\x03\x1b[31m",
    "\x7f\x85\x9f",
    "\ud800",  # a lone surrogate, sent as the JSON escape \ud800
    "\udfff\ud800",
    "\u202e\ufeff\u200b",  # direction override, BOM, zero width: allowed, must not break
    "'; DROP TABLE member; --",
    "%00%0d%0a",
    "x" * 100_000,
    "",
    " ",
]
HOSTILE_NUMBERS: list[Any] = [10**400, -(10**400), 2**63, -(2**63) - 1, 1e308, -1, 0.5]
HOSTILE_INSTANTS = [
    "0001-01-01T00:00:00+14:00",
    "9999-12-31T23:59:59-14:00",
    "2026-11-20T10:30:00+15:00",
    "2026-11-20T10:30:00-23:59",
    "1800-01-01T00:00:00+08:00",
    "2026-02-30T00:00:00+08:00",
    "2026-11-20T10:30:00",
    1_700_000_000,
    "1700000000",
]
HOSTILE_ANY: list[Any] = [None, {"$ne": None}, [[]], True]
DEEP = 10_000


def _write_operations() -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, operations in DOCUMENT["paths"].items():
        for method, operation in operations.items():
            if method in {"post", "put", "patch", "delete"}:
                yield method.upper(), path, operation


OPERATIONS = list(_write_operations())


def _hostile_values(schema: dict[str, Any]) -> list[Any]:
    schema = resolve(schema)
    kind = schema.get("type")
    if kind == "string" and schema.get("format") in {"date-time", "date"}:
        values: list[Any] = list(HOSTILE_INSTANTS)
    elif kind == "string":
        values = list(HOSTILE_STRINGS)
    elif kind in {"integer", "number"}:
        values = list(HOSTILE_NUMBERS)
    elif kind == "array":
        item = resolve(schema.get("items", {}))
        values = [[value] for value in _hostile_values(item)[:6]] + [["x"] * 10_000]
    else:
        values = []
    return values + HOSTILE_ANY


def _body_schema(operation: dict[str, Any]) -> tuple[str, dict[str, Any]] | None:
    content = operation.get("requestBody", {}).get("content", {})
    for media_type, entry in content.items():
        return media_type, resolve(entry["schema"])
    return None


def _path(path: str, operation: dict[str, Any], known: dict[str, Any]) -> str:
    for parameter in operation.get("parameters", []):
        if parameter["in"] == "path":
            name = parameter["name"]
            value = known.get(name, valid(parameter["schema"]))
            path = path.replace(f"{{{name}}}", str(value))
    return path


def _cases(
    operation: dict[str, Any], known: dict[str, Any]
) -> Iterator[tuple[str, dict[str, Any]]]:
    """(what it is, httpx request arguments) for every hostile request to the operation."""
    found = _body_schema(operation)
    json_type = {"Content-Type": "application/json"}
    if found is None:
        yield "no body", {}
        yield "unexpected body", {"content": b"\x00" * 1000, "headers": json_type}
        return
    media_type, schema = found
    base = valid(schema)
    base.update({name: value for name, value in known.items() if name in base})
    if media_type == "application/x-www-form-urlencoded":
        for name in schema.get("properties", {}):
            for value in HOSTILE_STRINGS:
                form = {**{k: str(v) for k, v in base.items()}, name: value}
                encoded = "&".join(
                    f"{k}={v.encode('utf-8', 'surrogatepass').hex()}" for k, v in form.items()
                )
                yield (
                    f"form {name}={value[:12]!r}",
                    {"data": form}
                    if "\ud800" not in value and ("\udfff" not in value)
                    else {
                        "content": encoded,
                        "headers": {"Content-Type": media_type},
                    },
                )
        yield "json to a form", {"content": json.dumps(base), "headers": json_type}
        return
    for name, field in schema.get("properties", {}).items():
        for value in _hostile_values(field):
            body = {**base, name: value}
            yield (
                f"{name}={str(value)[:16]!r}",
                {
                    "content": json.dumps(body),
                    "headers": json_type,
                },
            )
    yield "deep nesting", {"content": "[" * DEEP + "]" * DEEP, "headers": json_type}
    yield "deep object", {"content": '{"a":' * DEEP + "1" + "}" * DEEP, "headers": json_type}
    yield "invalid JSON", {"content": b'{"a": ', "headers": json_type}
    yield "invalid UTF-8", {"content": b'{"a": "\xff\xfe"}', "headers": json_type}
    yield "NaN", {"content": '{"x": NaN, "y": Infinity}', "headers": json_type}
    yield "array body", {"content": "[]", "headers": json_type}
    yield "null body", {"content": "null", "headers": json_type}
    yield "empty body", {"content": b"", "headers": json_type}
    yield "text/plain", {"content": json.dumps(base), "headers": {"Content-Type": "text/plain"}}
    yield "xml", {"content": "<a/>", "headers": {"Content-Type": "application/xml"}}
    yield "form instead of JSON", {"data": {"a": "b"}}
    yield "multipart", {"files": {"file": ("a.json", b"{}", "application/json")}}
    yield "duplicate keys", {"content": '{"a": 1, "a": 2}', "headers": json_type}


@pytest.mark.parametrize(
    ("method", "path", "operation"),
    OPERATIONS,
    ids=[f"{method} {path}" for method, path, _ in OPERATIONS],
)
async def test_hostile_inputs_never_break_a_write(client, staff, known, method, path, operation):
    url = _path(path, operation, known)
    failures = []
    for what, arguments in _cases(operation, known):
        for caller, headers in (("manager", staff), ("anonymous", {})):
            request_headers = {**headers, **arguments.get("headers", {})}
            try:
                response = await asyncio.wait_for(
                    client.request(method, url, **{**arguments, "headers": request_headers}),
                    TIMEOUT,
                )
            except TimeoutError:
                failures.append(f"{caller} {what}: no answer in {TIMEOUT}s")
                continue
            except httpx.HTTPError as exc:
                failures.append(f"{caller} {what}: {exc!r}")
                continue
            if response.status_code >= 500:
                failures.append(f"{caller} {what}: {response.status_code} {response.text[:200]}")
            elif response.status_code >= 400 and not response.headers.get(
                "content-type", ""
            ).startswith(PROBLEM):
                failures.append(f"{caller} {what}: {response.status_code} not problem+json")
    assert not failures, "\n".join(failures[:40])
