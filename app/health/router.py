from __future__ import annotations

import asyncio

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel
from sqlalchemy import text

from app.core.errors import problem_responses
from app.health.errors import NotReady

router = APIRouter(tags=["health"])
READY_TIMEOUT_SECONDS = 2.0


class Health(BaseModel):
    status: str


class Readiness(BaseModel):
    status: str
    database: str
    redis: str


@router.get("/healthz", summary="Liveness", response_model=Health)
async def healthz() -> Health:
    """The process is up and answering."""
    return Health(status="ok")


async def _check(coroutine: object) -> str:
    try:
        await asyncio.wait_for(coroutine, READY_TIMEOUT_SECONDS)  # type: ignore[arg-type]
    except Exception:
        return "unavailable"
    return "ok"


async def _ping_database(request: Request) -> None:
    async with request.app.state.db.engine.connect() as connection:
        await connection.execute(text("SELECT 1"))


@router.get(
    "/readyz",
    summary="Readiness",
    response_model=Readiness,
    responses=problem_responses(NotReady),
)
async def readyz(request: Request) -> Readiness:
    """The database and Redis both answer; 503 (`not_ready`) naming the one that does not."""
    database, redis = await asyncio.gather(
        _check(_ping_database(request)), _check(request.app.state.redis.ping())
    )
    if database != "ok" or redis != "ok":
        raise NotReady(f"database: {database}, redis: {redis}", database=database, redis=redis)
    return Readiness(status="ok", database=database, redis=redis)


@router.get(
    "/metrics",
    summary="Prometheus metrics",
    response_class=Response,
    responses={200: {"content": {"text/plain": {}}, "description": "Prometheus text format"}},
)
async def metrics(request: Request) -> Response:
    """Request counts and latency by route template, and database pool use."""
    return Response(request.app.state.metrics.render(), media_type="text/plain; version=0.0.4")
