"""Requests built from the OpenAPI document: every parameter and body field an operation
takes, filled from its schema, with the ids of a `World`'s objects wherever it names one."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from app.cli import OPENAPI_PATH
from app.core.periods import today
from tests.security.world import VICTIM_COUNTY, VICTIM_VILLAGE, World

DOCUMENT = json.loads(OPENAPI_PATH.read_text(encoding="utf-8"))
SCHEMAS = DOCUMENT["components"]["schemas"]
METHODS = ("get", "post", "put", "patch", "delete")
# Names of parameters and fields that identify an object or a region.
REGION_NAMES = frozenset({"code", "region", "village", "parent", "region_code", "county_code"})
IDENTIFYING_NAMES = REGION_NAMES | {"id", "id_number"}


class CannotFill(Exception):
    """The operation names something the world has no value for."""


@dataclass(frozen=True)
class Operation:
    id: str
    method: str
    path: str
    spec: dict[str, Any] = field(repr=False, compare=False, hash=False)

    @property
    def writes(self) -> bool:
        return self.method != "get"


def operations() -> Iterator[Operation]:
    for path, items in DOCUMENT["paths"].items():
        for method, spec in items.items():
            if method in METHODS:
                yield Operation(spec["operationId"], method, path, spec)


def resolve(schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        schema = SCHEMAS[name]
    if "properties" in schema:  # an object, whose `anyOf` (if any) constrains its fields
        return schema
    for key in ("anyOf", "oneOf"):
        if key in schema:
            branches = [b for b in schema[key] if b.get("type") != "null"]
            return resolve(branches[0])
    return schema


def body_schema(operation: Operation) -> dict[str, Any] | None:
    content = operation.spec.get("requestBody", {}).get("content", {})
    if "application/json" not in content:
        return None
    return resolve(content["application/json"]["schema"])


_PATTERNS = {
    r"^\d{12}$": "450226100000",  # a township of the demo county
    r"^1\d{10}$": "13800138000",
}


def valid(schema: dict[str, Any], name: str = "") -> Any:
    """A value that the schema accepts (a best guess, enough to reach past validation)."""
    schema = resolve(schema)
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


def identifies(name: str, schema: dict[str, Any]) -> bool:
    schema = resolve(schema)
    if "enum" in schema:  # a kind of thing (`region`: 省外 / 县内…), never an object
        return False
    return (
        name in IDENTIFYING_NAMES
        or name.endswith(("_id", "_ids"))
        or schema.get("format") == "uuid"
        or resolve(schema.get("items", {})).get("format") == "uuid"
    )


def identifying_fields(operation: Operation) -> list[str]:
    """Where the operation takes an id or a region: `in:name` of each parameter and body field
    (top level) that names one."""
    found = [
        f"{p['in']}:{p['name']}"
        for p in operation.spec.get("parameters", [])
        if identifies(p["name"], p.get("schema", {}))
    ]
    schema = body_schema(operation)
    if schema:
        found += [
            f"body:{name}"
            for name, prop in schema.get("properties", {}).items()
            if identifies(name, prop)
        ]
    return found


def _by_name(world: World, name: str, where: str) -> Any:
    now = datetime.now(UTC)
    values: dict[str, Any] = {
        "household_id": world.household_id,
        "member_id": world.member_id,
        "member_ids": [world.member_id],
        "job_id": world.job_id,
        "push_id": world.push_id,
        "training_id": world.training_id,
        "session_id": world.session_id,
        "import_id": world.import_id,
        "run_id": world.run_id,
        "conflict_id": world.conflict_id,
        "id_number": world.id_number,
        "period": world.period,
        "coordinator": world.coordinator_id,
        "actor": world.coordinator_id,
        "region_code": VICTIM_VILLAGE,
        "county_code": VICTIM_COUNTY,
        "region": VICTIM_VILLAGE,
        "village": VICTIM_VILLAGE,
        "parent": VICTIM_VILLAGE,
        # In a path or query, `code` is a region's; in a body, a check-in code.
        "code": world.checkin_code if where == "body" else VICTIM_VILLAGE,
        # In a query, `id` is the object an audit event is about; in a body, a new object's.
        "id": world.member_id if where == "query" else uuid.uuid4(),
        "starts_at": now + timedelta(hours=1),
        "ends_at": now + timedelta(days=1),
        "exemption_id": world.exemption_id,
        "help_request_id": world.help_request_id,
        "notification_id": world.notification_id,
        "alert_id": world.alert_id,
        "alert_run_id": world.alert_run_id,
        # A WeChat template this service sends (app/notifications/templates.json).
        "template_id": "dev-tmpl-job-pushed",
        "visited_at": now,
        "valid_until": today() + timedelta(days=30),
        "completed_on": today(),
        "reason": "本人要求",
        "if-match": '"1"',
        "status": "未务工" if where == "body" else None,  # EmploymentIn: needs nothing else
        # The year of the world's monitoring line and employment target (`build_world`).
        "year": int(world.period[:4]),
    }
    value = values.get(name)
    return str(value) if isinstance(value, uuid.UUID) else value


def _jsonable(value: Any) -> Any:
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    if isinstance(value, uuid.UUID):
        return str(value)
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


def example(world: World, name: str, schema: dict[str, Any], where: str) -> Any:
    """A valid value for `name`: the world's, by name, or the least the schema accepts."""
    schema = resolve(schema)
    named = _by_name(world, name, where)
    if named is not None and (not schema.get("enum") or named in schema["enum"]):
        return _jsonable(named)
    if identifies(name, schema):
        raise CannotFill(f"{where}:{name}")
    if "enum" in schema:
        return schema["enum"][0]
    if "const" in schema:
        return schema["const"]
    kind = schema.get("type")
    if kind == "object":
        return {
            key: example(world, key, prop, where)
            for key, prop in schema.get("properties", {}).items()
            if key in schema.get("required", [])
        }
    if kind == "array":
        count = schema.get("minItems", 0)
        return [example(world, name, schema.get("items", {}), where) for _ in range(count)]
    if kind == "boolean":
        return True
    if kind in ("integer", "number"):
        return max(schema.get("minimum", 1), 1)
    if schema.get("format") == "date":
        return today().isoformat()
    if schema.get("format") == "date-time":
        return datetime.now(UTC).isoformat()
    if schema.get("pattern") == r"^\d{12}$":
        return VICTIM_VILLAGE
    return "测试" * max(1, schema.get("minLength", 1))


@dataclass
class Request:
    method: str
    url: str
    params: dict[str, Any]
    headers: dict[str, str]
    json: Any = None


# Bodies the least each schema accepts does not make valid: one of two forms is required.
BODIES: dict[str, dict[str, Any]] = {"alert-settings-put-line": {"amount": "8000"}}


def request_for(operation: Operation, world: World) -> Request:
    """The operation aimed at the world's objects; `CannotFill` names what it could not fill.
    Optional parameters are sent only when they identify something, or are headers."""
    url, params, headers = operation.path, {}, {}
    for parameter in operation.spec.get("parameters", []):
        name, where = parameter["name"], parameter["in"]
        schema = parameter.get("schema", {})
        if not (parameter.get("required") or where == "header" or identifies(name, schema)):
            continue
        value = example(world, name, schema, where)
        if where == "path":
            url = url.replace("{" + name + "}", str(value))
        elif where == "query":
            params[name] = value
        elif where == "header":
            headers[name] = str(value)
    schema = body_schema(operation)
    body = None
    if schema is not None:
        body = dict(BODIES.get(operation.id, {})) or example(world, "", schema, "body")
        for name, prop in schema.get("properties", {}).items():
            if identifies(name, prop) and name not in body:
                body[name] = example(world, name, prop, "body")
    return Request(operation.method.upper(), url, params, headers, body)
