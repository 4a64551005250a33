"""Routers of the versioned API, and the OpenAPI document a generated client builds on.

Each domain router carries the full `/api/v1/...` prefix itself (rather than being nested under
a prefixed parent) so a route's own `path` is the template metrics and logs report.

The document is shaped for generated clients: operation ids `<tag>-<name>` (`operation_id`),
every problem `code` an operation may answer enumerated on its status (`ApiRouter`), the
`Problem` schema itself added once (`install_openapi`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from enum import Enum
from typing import Any

from fastapi import APIRouter, FastAPI, Query
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

from app.core.errors import (
    AppError,
    PayloadTooLarge,
    Problem,
    ValidationFailed,
    declared_problems,
    merge_responses,
    problem_responses,
)

API_PREFIX = "/api/v1"
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def operation_id(route: APIRoute) -> str:
    """`<tag>-<name>`, e.g. `households-list`: the route's first tag, then its name with
    hyphens. The name is the endpoint function's unless the route gives `name=` (as the routes
    whose function name repeats the tag do: `list_households` is `name="list"`). Ids are part
    of the contract; the committed `openapi/openapi.json` shows any change."""
    name = route.name.replace("_", "-")
    if not route.tags:
        return name
    tag = route.tags[0]
    return f"{tag.value if isinstance(tag, Enum) else tag}-{name}"


def _dependency_problems(dependant: Dependant) -> Iterator[type[AppError]]:
    for dependency in dependant.dependencies:
        yield from declared_problems(dependency.call)
        yield from _dependency_problems(dependency)


class ApiRouter(APIRouter):
    """An `APIRouter` whose operations document every problem they may answer: the router's
    shared ones, `bad_request` for those that take a body, those their dependencies declare
    (the caller's 401 and 403, pagination's `invalid_cursor`) and the operation's own
    (`responses=problem_responses(...)`), in that order. Problems of one status add up
    (FastAPI would let an operation's own 422 replace the router's `validation_failed`); any
    other entry replaces the router's."""

    def add_api_route(
        self,
        path: str,
        endpoint: Callable[..., Any],
        *,
        responses: dict[int | str, dict[str, Any]] | None = None,
        **options: Any,
    ) -> None:
        super().add_api_route(
            path, endpoint, responses=merge_responses(self.responses, responses or {}), **options
        )
        route = self.routes[-1]
        assert isinstance(route, APIRoute)
        declared = tuple(_dependency_problems(route.dependant))
        if route.methods & WRITE_METHODS:
            # Any body may be too large (app/core/body_limit.py).
            declared += (PayloadTooLarge,)
        else:
            declared = tuple(error for error in declared if not error.writes_only)
        if declared:
            shared = merge_responses(self.responses, problem_responses(*declared))
            route.responses = merge_responses(shared, responses or {})


def api_router(
    prefix: str, *, tags: list[str], responses: dict[int | str, Any] | None = None
) -> APIRouter:
    return ApiRouter(
        prefix=API_PREFIX + prefix,
        tags=list(tags),
        responses=merge_responses(problem_responses(ValidationFailed, AppError), responses or {}),
    )


def _headers_never_null(document: dict[str, Any]) -> None:
    """An optional header is absent or text, never JSON `null`: `str | None` is documented as
    its text alone (a client told `null` is allowed would send the word)."""
    for item in document.get("paths", {}).values():
        for operation in item.values():
            for parameter in operation.get("parameters", []) if isinstance(operation, dict) else []:
                schema = parameter.get("schema", {})
                if parameter.get("in") != "header" or "anyOf" not in schema:
                    continue
                branches = [b for b in schema["anyOf"] if b.get("type") != "null"]
                if len(branches) == 1:
                    del schema["anyOf"]
                    schema.update(branches[0])


def install_openapi(app: FastAPI) -> None:
    """The app's document, plus the `Problem` schema every problem answer refers to."""

    def openapi() -> dict[str, Any]:
        document = FastAPI.openapi(app)
        schemas = document.setdefault("components", {}).setdefault("schemas", {})
        if Problem.__name__ not in schemas:
            schema = Problem.model_json_schema(
                ref_template="#/components/schemas/{model}", mode="serialization"
            )
            schemas.update(schema.pop("$defs", {}))
            schemas[Problem.__name__] = schema
            document["components"]["schemas"] = dict(sorted(schemas.items()))
        _headers_never_null(document)
        return document

    app.openapi = openapi  # type: ignore[method-assign]


# A time range's query parameters. A time without its UTC offset is ambiguous for a county in
# UTC+8 (midnight there is 16:00 the day before in UTC), so the parameters are `AwareDatetime`
# and a naive one answers 422.
_OFFSET = "with its UTC offset: `{example}`. A time without one answers 422."


def instant_from(subject: str) -> Any:
    """`from`: `subject` at or after this instant (inclusive)."""
    return Query(
        alias="from",
        description=f"{subject} at or after this instant (inclusive), "
        + _OFFSET.format(example="2026-11-01T00:00:00+08:00"),
    )


def instant_to(subject: str) -> Any:
    """`to`: `subject` before this instant (exclusive)."""
    return Query(
        description=f"{subject} before this instant (exclusive), "
        + _OFFSET.format(example="2026-12-01T00:00:00+08:00")
    )
