"""What knowing the caller costs a request, measured in-process without a network.

    .venv/bin/python bench/caller.py [--requests 2000] [--rounds 9]

Drives the application's ASGI callable directly (no server, no socket, no HTTP client), so
what is left is the middleware, routing, FastAPI's dependency resolution and the endpoint. Each
probe answers `GET` with a constant and differs from the others only in how it learns its
caller:

- `no caller`: no dependency at all: the floor.
- `chain`: a staff endpoint's caller as FastAPI dependencies had it before `app.core.auth`
  (bearer scheme → account → role check, and the audit's actor from the account): four nodes,
  rebuilt here around the same account read.
- `by hand`: no dependency; the endpoint reads its caller itself (what `POST /visits` did
  before `app.core.auth`), with the fixed account only.
- `one node`: the `Staff` alias of `app.core.auth`: one node, `Caller(*roles)`.

Each is measured twice: with the account read from a fixed in-memory record (the framework's
cost alone) and with the app's own reader on PostgreSQL (one round trip per request). Probes
are interleaved, `--rounds` times; each figure is the median of the rounds, in microseconds per
request of this process's CPU (PostgreSQL's work is not in it, nor is other processes' load,
which moves the clock far more on a shared machine); `- floor` subtracts `no caller` of the
same source.
`GET /api/v1/me` (the real endpoint: any role's caller, its account shown) is measured too.

Settings (environment): BENCH_DATABASE_URL (a server we may create a database on),
BENCH_REDIS_URL (default database 14; nothing is written to it).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
import uuid
from typing import Any

import asgi
import harness  # also puts the project on sys.path; first
from fastapi import APIRouter, Depends, Request
from fastapi.security import OAuth2PasswordBearer

from app.core.auth import STAFF_ROLES, TOKEN_URL, Staff, read_caller
from app.core.caller import Actor, Principal
from app.core.errors import Forbidden

DATABASE = "wengang_bench_caller"


async def _time(app: Any, path: str, token: str, requests: int) -> tuple[float, float]:
    """Microseconds of this process's CPU, and of the clock, per request over `requests`
    sequential requests (each checked: 200)."""
    scope = asgi.get_scope(path, [(b"authorization", f"Bearer {token}".encode())])
    receive = asgi.receive
    statuses: list[int] = []

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            statuses.append(message["status"])

    cpu, wall = time.process_time_ns(), time.perf_counter_ns()
    for _ in range(requests):
        await app(dict(scope), receive, send)
    cpu, wall = time.process_time_ns() - cpu, time.perf_counter_ns() - wall
    if set(statuses) != {200}:
        raise RuntimeError(f"{path} answered {sorted(set(statuses))}")
    return cpu / requests / 1000, wall / requests / 1000


class FixedAccounts:
    """The app's account reader without the database: always the same account."""

    def __init__(self, real: Any, user_id: uuid.UUID) -> None:
        self._real, self._user_id, self._record = real, user_id, None

    async def load(self) -> None:
        self._record = await self._real.read(self._user_id)

    async def read(self, user_id: uuid.UUID) -> Any:
        return self._record


def probes() -> Any:
    """A router with the probes (see the module's docstring)."""
    router = APIRouter(prefix="/bench")
    # The chain as it was: a bearer scheme node, the account node below it, and the role check
    # and the audit's actor above it, each a dependency of its own.
    bearer = OAuth2PasswordBearer(tokenUrl=TOKEN_URL, auto_error=False)

    async def principal(request: Request, token: str | None = Depends(bearer)) -> Principal:
        return await read_caller(request)

    async def staff(caller: Principal = Depends(principal)) -> Principal:
        if caller.role not in STAFF_ROLES:
            raise Forbidden("当前角色无权执行此操作")
        return caller

    async def actor(caller: Principal = Depends(principal)) -> Actor:
        return caller.actor

    @router.get("/none")
    async def no_caller() -> dict[str, bool]:
        return {"ok": True}

    @router.get("/chain")
    async def chain(
        caller: Principal = Depends(staff), audit: Actor = Depends(actor)
    ) -> dict[str, bool]:
        return {"ok": True}

    @router.get("/hand")
    async def by_hand(request: Request) -> dict[str, bool]:
        caller = await read_caller(request)
        if caller.role not in STAFF_ROLES:
            raise Forbidden("当前角色无权执行此操作")
        return {"ok": True}

    @router.get("/one")
    async def one_node(caller: Staff) -> dict[str, bool]:
        return {"ok": True}

    return router


async def measure(url: str, requests: int, rounds: int) -> list[str]:
    from app.auth.models import Role
    from app.auth.service import create_user
    from app.core.config import Settings
    from app.core.security import issue_access_token
    from app.main import create_app
    from app.regions.importer import DEMO_COUNTY_CSV, import_regions

    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        app_env="development",
        database_url=url,
        redis_url=harness.REDIS_URL,
        log_level="WARNING",
        access_token_ttl_seconds=3600,
    )
    app = create_app(settings)
    app.include_router(probes())
    lines = []
    async with app.router.lifespan_context(app):
        async with app.state.db.engine.begin() as connection:
            await import_regions(connection, DEMO_COUNTY_CSV)
        async with app.state.db.sessionmaker.begin() as session:
            user = await create_user(
                session,
                settings,
                role=Role.coordinator,
                username="bench",
                password="bench-password",
                region_codes=["450226100201"],
            )
        token, _ = issue_access_token(settings, user.id, user.role)
        real = app.state.accounts
        fixed = FixedAccounts(real, user.id)
        await fixed.load()

        cases = [
            ("fixed", "no caller", "/bench/none"),
            ("fixed", "chain", "/bench/chain"),
            ("fixed", "by hand", "/bench/hand"),
            ("fixed", "one node", "/bench/one"),
            ("fixed", "GET /api/v1/me", "/api/v1/me"),
            ("database", "no caller", "/bench/none"),
            ("database", "chain", "/bench/chain"),
            ("database", "one node", "/bench/one"),
            ("database", "GET /api/v1/me", "/api/v1/me"),
        ]
        results: dict[tuple[str, str], list[tuple[float, float]]] = {
            (s, n): [] for s, n, _ in cases
        }
        for source, _, path in cases:  # warm-up: caches, first connections
            app.state.accounts = fixed if source == "fixed" else real
            await _time(app, path, token, requests // 4)
        for _ in range(rounds):
            for source, name, path in cases:
                app.state.accounts = fixed if source == "fixed" else real
                results[source, name].append(await _time(app, path, token, requests))
        app.state.accounts = real

    lines.append(
        f"{requests} requests × {rounds} rounds per probe, interleaved; µs per request of this "
        "process's CPU (median and lowest of the rounds; the machine's other load moves it "
        "far less than the clock), and of the clock (median)"
    )
    lines.append("")
    lines.append("| account read from | probe | CPU µs | lowest | CPU - floor | clock µs |")
    lines.append("|---|---|---:|---:|---:|---:|")
    for source, name, _ in cases:
        cpu = [c for c, _ in results[source, name]]
        wall = [w for _, w in results[source, name]]
        floor = statistics.median(c for c, _ in results[source, "no caller"])
        lines.append(
            f"| {source} | {name} | {statistics.median(cpu):.1f} | {min(cpu):.1f} "
            f"| {statistics.median(cpu) - floor:+.1f} | {statistics.median(wall):.1f} |"
        )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=9)
    args = parser.parse_args()
    from app.cli import migrate

    harness.psql(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)")
    harness.psql(f"CREATE DATABASE {DATABASE}")
    url = harness.database_url(DATABASE)
    migrate(url)  # before the event loop: Alembic's environment runs one of its own
    try:
        lines = asyncio.run(measure(url, args.requests, args.rounds))
    finally:
        harness.psql(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)")
    harness.publish("caller.md", lines)


if __name__ == "__main__":
    main()
