"""Routers of the versioned API.

Each domain router carries the full `/api/v1/...` prefix itself (rather than being nested under
a prefixed parent) so a route's own `path` is the template metrics and logs report.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query

from app.core.errors import AppError, ValidationFailed, problem_responses

API_PREFIX = "/api/v1"


def api_router(
    prefix: str, *, tags: list[str], responses: dict[int | str, Any] | None = None
) -> APIRouter:
    return APIRouter(
        prefix=API_PREFIX + prefix,
        tags=list(tags),
        responses={**problem_responses(ValidationFailed, AppError), **(responses or {})},
    )


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
