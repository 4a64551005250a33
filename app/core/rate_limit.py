"""Limits per account in Redis: writes in a window, and full ID-number reveals.

A fixed window per account: one pipelined round trip (SET NX with the window's expiry, then
INCR: EXPIRE NX needs Redis 7) per counted request, and the key dies with its window. A client
may fit up to twice the limit across a window's edge, which these limits accept for their
single round trip.
"""

from __future__ import annotations

import time
import uuid

from redis.asyncio import Redis

from app.core.errors import TooManyRequests


class TooManyWrites(TooManyRequests):
    code, title = "too_many_writes", "写入过于频繁，请稍后再试"
    writes_only = True  # documented on writing operations only


class TooManyReveals(TooManyRequests):
    code, title = "too_many_reveals", "查看完整身份证号次数已达上限，请稍后再试"


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
    now = time.time()
    window = int(now // window_seconds)
    key = f"rate:{kind}:{account.hex}:{window}"
    pipe = redis.pipeline(transaction=False)
    pipe.set(key, 0, ex=window_seconds + 1, nx=True)
    pipe.incr(key)
    _, used = await pipe.execute()
    if used > limit:
        retry_after = int((window + 1) * window_seconds - now) + 1
        raise error(f"每 {window_seconds} 秒最多 {limit} 次", retry_after=retry_after)
