"""Limits per account in Redis: writes in a window, and full ID-number reveals.

Fixed windows per account, counted in Redis so every process shares them; the key dies with
its window. A client may fit up to twice a limit across a window's edge, which these limits
accept for their single round trip.

Reveals are rare: each is counted in Redis (`spend`). Writes are the hot path (a visit costs
about half a millisecond of Python; a Redis round trip per write would add a sixth): each
process claims a write allowance in chunks (`WriteAllowance`) and spends it in memory, so
Redis is asked once per chunk. The total claimed never passes the limit; allowances a
process claimed but did not spend before the window ended are lost, so with several processes
an account may be refused a few writes early, never late.
"""

from __future__ import annotations

import time
import uuid

from redis.asyncio import Redis

from app.core.config import Settings
from app.core.errors import TooManyRequests

# Writes a process claims at once: a twentieth of the limit, at most this many.
WRITE_CHUNK_MAX = 16


class TooManyWrites(TooManyRequests):
    code, title = "too_many_writes", "写入过于频繁，请稍后再试"
    writes_only = True  # documented on writing operations only


class TooManyReveals(TooManyRequests):
    code, title = "too_many_reveals", "查看完整身份证号次数已达上限，请稍后再试"


def _window(window_seconds: int) -> tuple[int, int]:
    """The current window's number, and the whole seconds until the next one (at least 1)."""
    now = time.time()
    window = int(now // window_seconds)
    return window, int((window + 1) * window_seconds - now) + 1


async def _claim(redis: Redis, key: str, amount: int, window_seconds: int) -> int:
    """Add `amount` to the window's count; answers the new count. The first claim of a window
    sets its expiry (a second round trip once per window and account)."""
    count = int(await redis.incrby(key, amount))
    if count == amount:
        await redis.expire(key, window_seconds + 1)
    return count


async def spend(
    redis: Redis,
    kind: str,
    account: uuid.UUID,
    *,
    limit: int,
    window_seconds: int,
    error: type[TooManyRequests],
) -> None:
    """Count one use of `kind` by `account`; past `limit` in the current window, `error`
    with the seconds until the window ends."""
    window, retry_after = _window(window_seconds)
    used = await _claim(redis, f"rate:{kind}:{account.hex}:{window}", 1, window_seconds)
    if used > limit:
        raise error(f"每 {window_seconds} 秒最多 {limit} 次", retry_after=retry_after)


class WriteAllowance:
    """Writes per account (`WRITE_RATE_MAX` in `WRITE_RATE_WINDOW_SECONDS`; 0 is no limit),
    claimed from Redis in chunks and spent in this process's memory."""

    def __init__(self, redis: Redis, settings: Settings) -> None:
        self._redis = redis
        self._settings = settings
        self._window = -1
        # The current window's unspent claims per account; -1 once the account is refused.
        self._left: dict[uuid.UUID, int] = {}

    async def spend(self, account: uuid.UUID) -> None:
        limit = self._settings.write_rate_max
        if not limit:
            return
        window_seconds = self._settings.write_rate_window_seconds
        window, retry_after = _window(window_seconds)
        if window != self._window:
            self._window, self._left = window, {}
        left = self._left.get(account, 0)
        if left > 0:
            self._left[account] = left - 1
            return
        if left < 0:  # the window's count is spent (it only grows): no need to ask Redis again
            raise self._refusal(limit, window_seconds, retry_after)
        chunk = max(1, min(WRITE_CHUNK_MAX, limit // 20))
        key = f"rate:write:{account.hex}:{window}"
        count = await _claim(self._redis, key, chunk, window_seconds)
        granted = min(chunk, limit - (count - chunk))
        if window != self._window:  # the window ended while Redis answered
            return
        if granted <= 0:
            self._left[account] = -1
            raise self._refusal(limit, window_seconds, retry_after)
        # Claims made meanwhile by concurrent writes of the account add up.
        self._left[account] = max(0, self._left.get(account, 0)) + granted - 1

    @staticmethod
    def _refusal(limit: int, window_seconds: int, retry_after: int) -> TooManyWrites:
        return TooManyWrites(f"每 {window_seconds} 秒最多写入 {limit} 次", retry_after=retry_after)
