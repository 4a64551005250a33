"""The request-scoped dependencies endpoints take, as `Annotated` aliases: the request's
session (`Session`, or `ReadSession` for endpoints that only read) and its page (`Pagination`).
The caller's are in `app.core.auth`.

Services take what these build (an `AsyncSession`, a `PageRequest`), never the aliases: only
routers import this module.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Query, Request
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.db import Database
from app.core.errors import AppError, declares_problems
from app.core.pagination import (
    DEFAULT_LIMIT,
    MAX_LIMIT,
    InvalidCursor,
    PageRequest,
    decode_cursor,
)
from app.core.queue import send_pending_jobs


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    """The request's session, committed at the boundary once the endpoint has returned.

    Used with `scope="function"` so the commit happens before the response is sent: a failed
    commit answers an error instead of a success the database never stored.
    """
    database: Database = request.app.state.db
    async with database.sessionmaker() as session:
        try:
            yield session
        except AppError as exc:
            await (session.commit() if exc.keeps_changes else session.rollback())
            raise
        except BaseException:
            await session.rollback()
            raise
        await session.commit()
        await send_pending_jobs(session, request.app.state.arq)


Session = Annotated[AsyncSession, Depends(get_session, scope="function")]


async def get_read_session(request: Request) -> AsyncIterator[AsyncSession]:
    """A session for endpoints that only read: autocommit, nothing to commit or roll back.

    Each statement sees the data committed when it runs; a read spanning statements is not
    one snapshot, which these endpoints accept in exchange for fewer round trips.
    """
    database: Database = request.app.state.db
    async with database.read_sessionmaker() as session:
        yield session


ReadSession = Annotated[AsyncSession, Depends(get_read_session, scope="function")]


@declares_problems(InvalidCursor)
async def page_request(
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Page size")] = DEFAULT_LIMIT,
    cursor: Annotated[str | None, Query(description="`next_cursor` of the previous page")] = None,
) -> PageRequest:
    return PageRequest(limit=limit, after=decode_cursor(cursor) if cursor else None)


Pagination = Annotated[PageRequest, Depends(page_request)]


CountyCode = Annotated[
    str | None,
    Query(
        # A county's code: its own two digits not both zero, nothing below it.
        pattern=r"^\d{4}(0[1-9]|[1-9]\d)0{6}$",
        description="A county's code: required of admins and of managers above county level; "
        "others default to their own county.",
    ),
]
"""The county whose settings an endpoint reads or sets (`app.regions.county_settings`)."""
