"""The HTTP client of the monitoring feed (`FEED.md`): pages of records, and updates sent back.

What it does about failures, per call:
- 429: waits what `Retry-After` says (seconds or an HTTP date; at most `retry_after_cap`), or
  the backoff when it says nothing usable, then asks again;
- 5xx, timeouts (the whole exchange, not only each read) and connection errors: waits an
  exponential backoff with full jitter, then asks again; after `max_attempts` attempts in all,
  `FeedUnavailable`;
- 401 and 403: `FeedRefused` at once (asking again will not help; an admin must act);
- an answer that is not JSON, or not of the contract's shape: `FeedMalformed`;
- any other status: `FeedError`.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import httpx


class FeedError(Exception):
    """The feed answered something we cannot use."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class FeedUnavailable(FeedError):
    """The feed did not answer usefully within the attempts allowed (5xx, 429, timeouts,
    connection errors): try again later, from the last committed cursor."""


class FeedRefused(FeedError):
    """The feed refused our token (401) or our access (403): stop and tell an admin."""


class FeedMalformed(FeedError):
    """The feed answered 2xx with a body that is not JSON, or not of the contract's shape."""


@dataclass(frozen=True, slots=True)
class FeedPage:
    records: list[dict[str, Any]]  # as the feed sent them: `app.feed.mapping` checks each
    next_cursor: str | None
    has_more: bool


@dataclass(frozen=True, slots=True)
class UpdatesAnswer:
    accepted: int
    rejected: list[tuple[int, str]]  # (index in the updates sent, the feed's reason)


Sleep = Callable[[float], Awaitable[None]]


class FeedClient:
    """One feed, reached through `http` (the worker's shared client, or a test's
    `httpx.ASGITransport`). `timeout` bounds each attempt as a whole."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        base_url: str,
        token: str,
        *,
        timeout: float = 30.0,
        max_attempts: int = 5,
        backoff_base: float = 1.0,
        backoff_cap: float = 60.0,
        retry_after_cap: float = 300.0,
        sleep: Sleep = asyncio.sleep,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        self.http = http
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.max_attempts = max_attempts
        self.backoff_base = backoff_base
        self.backoff_cap = backoff_cap
        self.retry_after_cap = retry_after_cap
        self.sleep = sleep
        self.jitter = jitter
        self._headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}

    async def fetch_page(self, cursor: str | None, limit: int) -> FeedPage:
        """The records after `cursor` (None: from the beginning), at most `limit`."""
        params: dict[str, str | int] = {"limit": limit}
        if cursor is not None:
            params["cursor"] = cursor
        body = await self._call("GET", "/v1/records", params=params)
        records, next_cursor, has_more = (
            body.get("records"),
            body.get("next_cursor"),
            body.get("has_more"),
        )
        if (
            not isinstance(records, list)
            or not isinstance(has_more, bool)
            or not (next_cursor is None or isinstance(next_cursor, str))
        ):
            raise FeedMalformed(
                "GET /v1/records: the answer is not {records: [...], next_cursor, has_more}"
            )
        if has_more and next_cursor is None:
            raise FeedMalformed("GET /v1/records: has_more without a next_cursor")
        return FeedPage(records=records, next_cursor=next_cursor, has_more=has_more)

    async def post_updates(self, key: str, updates: Sequence[Mapping[str, Any]]) -> UpdatesAnswer:
        """Sends `updates` under `Idempotency-Key: key`; a retry sends the same key."""
        body = await self._call(
            "POST",
            "/v1/updates",
            json={"updates": list(updates)},
            headers={"Idempotency-Key": key},
        )
        accepted, rejected = body.get("accepted"), body.get("rejected")
        if not _is_count(accepted) or not isinstance(rejected, list):
            raise FeedMalformed("POST /v1/updates: the answer is not {accepted, rejected: [...]}")
        refusals: list[tuple[int, str]] = []
        for item in rejected:
            index = item.get("index") if isinstance(item, dict) else None
            reason = item.get("reason") if isinstance(item, dict) else None
            if not _is_count(index) or not 0 <= index < len(updates):
                raise FeedMalformed(f"POST /v1/updates: a rejection without a valid index: {item}")
            refusals.append((index, str(reason) if reason is not None else ""))
        return UpdatesAnswer(accepted=accepted, rejected=refusals)

    # --- one call, with its retries ------------------------------------------------------------

    async def _call(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        headers = {**self._headers, **kwargs.pop("headers", {})}
        what = f"{method} {path}"
        last = ""
        for attempt in range(1, self.max_attempts + 1):
            wait: float | None = None
            try:
                async with asyncio.timeout(self.timeout):
                    response = await self.http.request(
                        method,
                        self.base_url + path,
                        headers=headers,
                        timeout=self.timeout,
                        **kwargs,
                    )
                    await response.aread()
            except (TimeoutError, httpx.TimeoutException):
                last = f"no answer within {self.timeout:g} s"
            except httpx.TransportError as exc:
                last = f"{type(exc).__name__}: {exc}"
            else:
                status = response.status_code
                if status in (401, 403):
                    raise FeedRefused(f"{what}: the feed refused us ({status})", status=status)
                if status == 429:
                    last = "rate limited (429)"
                    wait = self._retry_after(response.headers.get("Retry-After"))
                elif status >= 500:
                    last = f"server error ({status})"
                elif 200 <= status < 300:
                    return _json_object(response, what)
                else:
                    raise FeedError(f"{what}: {status} {_snippet(response)}", status=status)
            if attempt < self.max_attempts:
                await self.sleep(self._backoff(attempt) if wait is None else wait)
        raise FeedUnavailable(f"{what}: {last}, {self.max_attempts} attempts")

    def _backoff(self, attempt: int) -> float:
        """Full jitter: anywhere up to base x 2^(attempt-1), capped."""
        ceiling = min(self.backoff_cap, self.backoff_base * 2 ** (attempt - 1))
        return ceiling * self.jitter()

    def _retry_after(self, value: str | None) -> float | None:
        """Seconds to wait from a `Retry-After` header, capped; None when it has none usable."""
        if not value:
            return None
        value = value.strip()
        try:
            seconds = float(value)
        except ValueError:
            try:
                when = parsedate_to_datetime(value)
            except (TypeError, ValueError):
                return None
            if when.tzinfo is None:
                when = when.replace(tzinfo=UTC)
            seconds = (when - datetime.now(UTC)).total_seconds()
        if seconds != seconds:  # NaN
            return None
        return min(max(seconds, 0.0), self.retry_after_cap)


def _is_count(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _json_object(response: httpx.Response, what: str) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        raise FeedMalformed(f"{what}: the answer is not JSON: {_snippet(response)}") from None
    if not isinstance(body, dict):
        raise FeedMalformed(f"{what}: the answer is not a JSON object")
    return body


def _snippet(response: httpx.Response) -> str:
    return response.text[:200].replace("\n", " ")
