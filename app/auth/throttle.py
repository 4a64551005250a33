"""Login throttling in Redis: failures per account, attempts per client address."""

from __future__ import annotations

import hashlib

from redis.asyncio import Redis

from app.auth.errors import TooManyLoginAttempts
from app.core.config import Settings


def _key(kind: str, value: str) -> str:
    # Hash the identifier: Redis keys should not carry login names or addresses in clear.
    return f"login:{kind}:" + hashlib.sha256(value.lower().encode()).hexdigest()[:32]


class LoginThrottle:
    def __init__(self, redis: Redis, settings: Settings) -> None:
        self._redis = redis
        self._settings = settings

    async def admit(self, account: str | None, address: str) -> None:
        """Count this attempt against the address; refuse if either limit is already reached."""
        s = self._settings
        address_key = _key("addr", address)
        pipe = self._redis.pipeline(transaction=True)
        # SET NX then INCR: the window starts at the first attempt (EXPIRE NX needs Redis 7).
        pipe.set(address_key, 0, ex=s.login_address_window_seconds, nx=True)
        pipe.incr(address_key)
        pipe.ttl(address_key)
        _, attempts, ttl = await pipe.execute()
        if attempts > s.login_address_max_attempts:
            raise TooManyLoginAttempts(
                "该网络地址登录尝试过多",
                retry_after=ttl if ttl > 0 else s.login_address_window_seconds,
            )
        if account is None:
            return
        account_key = _key("acct", account)
        pipe = self._redis.pipeline(transaction=True)
        pipe.get(account_key)
        pipe.ttl(account_key)
        failures, ttl = await pipe.execute()
        if failures is not None and int(failures) >= s.login_account_max_failures:
            raise TooManyLoginAttempts(
                "该账号连续登录失败次数过多，已暂时锁定",
                retry_after=ttl if ttl > 0 else s.login_account_window_seconds,
            )

    async def failed(self, account: str) -> None:
        key = _key("acct", account)
        pipe = self._redis.pipeline(transaction=True)
        pipe.set(key, 0, ex=self._settings.login_account_window_seconds, nx=True)
        pipe.incr(key)
        await pipe.execute()

    async def succeeded(self, account: str) -> None:
        await self._redis.delete(_key("acct", account))
