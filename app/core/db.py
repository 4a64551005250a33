"""Database engine and sessions, declarative base with named constraints (the request's session
is a dependency: `app.core.deps`)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime

import asyncpg
from sqlalchemy import DateTime, MetaData, Uuid, func, make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from app.core.config import Settings

# Every constraint and index gets a predictable name, so migrations can drop and alter them.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def one_of(column: str, values: type, *, nullable: bool = False) -> str:
    """A CHECK constraint body: `column` holds one of the enumeration's values."""
    listed = ", ".join(f"'{v.value}'" for v in values)  # type: ignore[attr-defined]
    check = f"{column} IN ({listed})"
    return f"{column} IS NULL OR {check}" if nullable else check


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {  # noqa: RUF012
        datetime: DateTime(timezone=True),
        uuid.UUID: Uuid(as_uuid=True),
    }


class UUIDPrimaryKey:
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)


class Timestamps:
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(server_default=func.now(), onupdate=func.now())


class Database:
    """One engine and session factory per process (API, worker, CLI command)."""

    def __init__(self, settings: Settings) -> None:
        if not settings.database_url:
            raise RuntimeError("DATABASE_URL is not set (use `wengang dev` for embedded defaults)")
        self.engine: AsyncEngine = create_async_engine(
            settings.database_url,
            pool_size=settings.database_pool_size,
            max_overflow=settings.database_max_overflow,
            pool_pre_ping=False,
            connect_args={"server_settings": {"application_name": "wengang"}},
        )
        self.sessionmaker = async_sessionmaker(self.engine, expire_on_commit=False)
        self._driver_dsn = (
            make_url(settings.database_url)
            .set(drivername="postgresql")
            .render_as_string(hide_password=False)
        )
        self._driver_pool_size = settings.database_driver_pool_size
        self._driver_pool: asyncpg.Pool | None = None
        self._driver_pool_lock = asyncio.Lock()
        # Reads that change nothing skip BEGIN/COMMIT: two round trips fewer per request.
        self.read_sessionmaker = async_sessionmaker(
            self.engine.execution_options(isolation_level="AUTOCOMMIT"), expire_on_commit=False
        )

    @asynccontextmanager
    async def driver_connection(self) -> AsyncIterator[asyncpg.Connection]:
        """A connection of the driver's own pool, outside any transaction: for the hot paths
        (the caller's account, a batch of visits), with no ORM, BEGIN/COMMIT only where a
        write takes more than one statement, and a checkout a quarter of the cost of the
        engine's."""
        if self._driver_pool is None:
            async with self._driver_pool_lock:
                if self._driver_pool is None:
                    self._driver_pool = await asyncpg.create_pool(
                        self._driver_dsn,
                        min_size=1,
                        max_size=self._driver_pool_size,
                        connection_class=_PooledConnection,
                        server_settings={"application_name": "wengang"},
                    )
        async with self._driver_pool.acquire() as connection:
            yield connection

    async def dispose(self) -> None:
        if self._driver_pool is not None:
            await self._driver_pool.close()
        await self.engine.dispose()


class _PooledConnection(asyncpg.Connection):  # type: ignore[misc]
    def get_reset_query(self) -> str:
        # Nothing here sets session state (LISTEN, advisory locks, SET), so a returned
        # connection needs no reset round trip; asyncpg still ends any open transaction.
        return ""


async def session_driver_connection(session: AsyncSession) -> asyncpg.Connection:
    """The driver's connection under `session`, in the session's transaction: for statements
    written for the driver (composite-typed parameters, COPY) whose work commits or rolls
    back with the session's."""
    connection = await session.connection()
    driver = (await connection.get_raw_connection()).driver_connection
    assert driver is not None
    if not driver.is_in_transaction():
        # SQLAlchemy begins the driver's transaction at the session's first statement.
        await connection.exec_driver_sql("SELECT")
    return driver
