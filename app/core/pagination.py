"""Cursor pagination: `?limit=&cursor=` in, `{"items": [...], "next_cursor": ...}` out."""

from __future__ import annotations

import base64
import json
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Generic, TypeVar

from fastapi import Depends, Query
from pydantic import BaseModel
from sqlalchemy import Select, and_, or_

from app.core.errors import BadRequest

DEFAULT_LIMIT = 50
MAX_LIMIT = 500


class InvalidCursor(BadRequest):
    code, title = "invalid_cursor", "分页游标无效"


T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None


@dataclass(frozen=True, slots=True)
class PageRequest:
    limit: int
    after: list[Any] | None  # the sort key of the last item already seen


def encode_cursor(key: list[Any]) -> str:
    raw = json.dumps(key, separators=(",", ":"), default=str).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> list[Any]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        key = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidCursor("游标无法解析，请从第一页重新开始") from exc
    if not isinstance(key, list):
        raise InvalidCursor("游标无法解析，请从第一页重新开始")
    return key


async def page_request(
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Page size")] = DEFAULT_LIMIT,
    cursor: Annotated[str | None, Query(description="`next_cursor` of the previous page")] = None,
) -> PageRequest:
    return PageRequest(limit=limit, after=decode_cursor(cursor) if cursor else None)


Pagination = Annotated[PageRequest, Depends(page_request)]


def next_cursor(rows: list[Any], limit: int, key: Any) -> tuple[list[Any], str | None]:
    """Given up to `limit + 1` rows, the page and the cursor to the next one (if any)."""
    if len(rows) <= limit:
        return rows, None
    page = rows[:limit]
    return page, encode_cursor(key(page[-1]))


def newest_first(
    statement: Select[Any], time_column: Any, id_column: Any, page: PageRequest
) -> Select[Any]:
    """Order by `(time, id)` descending, continue after the cursor, fetch one row extra.

    The cursor of such a page is `[time.isoformat(), str(id)]` (see `newest_first_key`).
    """
    statement = statement.order_by(time_column.desc(), id_column.desc()).limit(page.limit + 1)
    if not page.after:
        return statement
    try:
        at, last = datetime.fromisoformat(str(page.after[0])), uuid.UUID(str(page.after[1]))
    except (ValueError, IndexError) as exc:
        raise InvalidCursor("游标无法解析，请从第一页重新开始") from exc
    return statement.where(or_(time_column < at, and_(time_column == at, id_column < last)))


def newest_first_key(time: datetime, id_: uuid.UUID) -> list[str]:
    return [time.isoformat(), str(id_)]
