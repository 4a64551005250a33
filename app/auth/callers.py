"""Reading the caller's account: the one query every authenticated request makes.

`AccountReader` reads the accounts of the requests waiting at the same moment with one
statement (`app.core.batching`): under load, one round trip serves many requests. No request
holds a driver connection while it waits, so any pool size serves any load.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import fields

import asyncpg
from sqlalchemy import bindparam, func, select
from sqlalchemy.dialects.postgresql.asyncpg import dialect as asyncpg_dialect

from app.auth.models import UserAccount, UserRegion
from app.core.batching import Batcher
from app.core.caller import AccountSnapshot
from app.core.db import Database

_account = UserAccount.__table__
# Only what requests use (the snapshot's fields, in order): every column decoded costs time on
# every request.
PRINCIPAL_COLUMNS = tuple(field.name for field in fields(AccountSnapshot))
_columns = (
    *(_account.c[name] for name in PRINCIPAL_COLUMNS),
    select(func.array_agg(UserRegion.region_code))
    .where(UserRegion.user_id == _account.c.id)
    .correlate(_account)
    .scalar_subquery()
    .label("region_codes"),
)
# Compiled once: every authenticated request runs one of them, and SQLAlchemy's per-execution
# work (statement cache lookup, result processing) costs several times the database round trip.
_ONE = str(
    select(*_columns)
    .where(_account.c.id == bindparam("user_id"))
    .compile(dialect=asyncpg_dialect())
)
_MANY = str(
    select(*_columns)
    .where(_account.c.id == func.any(bindparam("user_ids")))
    .compile(dialect=asyncpg_dialect())
)


class AccountReader:
    def __init__(self, database: Database, *, lanes: int, batch: int) -> None:
        self._database = database
        self.batcher: Batcher[uuid.UUID, asyncpg.Record | None] = Batcher(
            self._run, name="account reads", lanes=lanes, batch=batch
        )

    async def read(self, user_id: uuid.UUID) -> asyncpg.Record | None:
        """The account's snapshot columns, then `region_codes` (NULL without regions); None
        without such an account."""
        return await self.batcher.submit(user_id)

    async def _run(self, user_ids: Sequence[uuid.UUID]) -> list[asyncpg.Record | None]:
        async with self._database.driver_connection() as connection:
            if len(user_ids) == 1:  # the usual case when idle: the simpler statement
                return [await connection.fetchrow(_ONE, user_ids[0])]
            rows = await connection.fetch(_MANY, list(set(user_ids)))
        found = {row["id"]: row for row in rows}
        return [found.get(user_id) for user_id in user_ids]
