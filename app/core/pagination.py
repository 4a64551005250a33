"""Cursor pagination: `?limit=&cursor=` in (the `Pagination` dependency, `app.core.deps`),
`{"items": [...], "next_cursor": ...}` out.

Every list answers a page, even one that is naturally short (a top-N ranking answers
`next_cursor: null`), so a client reads every list the same way. Name each page model for the
document (`class VisitPage(Page[VisitOut])`): a bare `Page[VisitOut]` would be published as
`Page_VisitOut_`.
"""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar

from pydantic import BaseModel
from sqlalchemy import Select, and_, literal, or_, tuple_

from app.core.errors import BadRequest
from app.core.types import instant_in_range

DEFAULT_LIMIT = 50
MAX_LIMIT = 500


class InvalidCursor(BadRequest):
    code, title = "invalid_cursor", "分页游标无效"


T = TypeVar("T")


class Items(BaseModel, Generic[T]):
    """The answer of a write that acts on several items at once: one entry per item."""

    items: list[T]


class Page(Items[T], Generic[T]):
    """One page of a list; `next_cursor` fetches the next (`null` on the last page)."""

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
    _check_bound(at)
    return statement.where(or_(time_column < at, and_(time_column == at, id_column < last)))


def newest_first_key(time: datetime, id_: uuid.UUID) -> list[str]:
    return [time.isoformat(), str(id_)]


def keyset(
    statement: Select[Any],
    columns: Sequence[Any],
    parsers: Sequence[Callable[[Any], Any]],
    page: PageRequest,
    *,
    descending: bool,
) -> Select[Any]:
    """Order by `columns` (all one way, the last one unique), continue after the cursor,
    fetch one row extra. The cursor is the last row's values of `columns`, each read back with
    its parser (`int`, `datetime.fromisoformat`, `uuid.UUID`…); see `keyset_key`."""
    statement = statement.order_by(
        *(column.desc() if descending else column.asc() for column in columns)
    ).limit(page.limit + 1)
    if not page.after:
        return statement
    try:
        values = [parse(value) for parse, value in zip(parsers, page.after, strict=True)]
    except (ValueError, TypeError, OverflowError) as exc:
        raise InvalidCursor("游标无法解析，请从第一页重新开始") from exc
    for value in values:
        _check_bound(value)
    row = tuple_(*columns)
    after = tuple_(
        *(literal(value, column.type) for value, column in zip(values, columns, strict=True))
    )
    return statement.where(row < after if descending else row > after)


def _check_bound(value: Any) -> None:
    # A cursor is the client's text: a value decoded from it must be one the database and the
    # driver can hold (an aware instant in range, a 64-bit integer), else it is not ours.
    if isinstance(value, datetime) and not instant_in_range(value):
        raise InvalidCursor("游标无法解析，请从第一页重新开始")
    if isinstance(value, int) and not -(2**63) <= value < 2**63:
        raise InvalidCursor("游标无法解析，请从第一页重新开始")


def keyset_key(*values: Any) -> list[Any]:
    """A row's cursor key for `keyset`: its values of the ordering columns, as JSON values."""
    return [_json_value(value) for value in values]


def _json_value(value: Any) -> Any:
    if isinstance(value, int):
        return value
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)
