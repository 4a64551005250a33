"""Routers of the versioned API.

Each domain router carries the full `/api/v1/...` prefix itself (rather than being nested under
a prefixed parent) so a route's own `path` is the template metrics and logs report.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

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
