"""Login throttling in Redis: failures per account and address, attempts per address.

Failures are counted for an account *from one address*, and only that address is refused once
they reach the limit: someone guessing a coordinator's password from one place cannot lock the
coordinator out from another. Every attempt also counts against its address, whatever the
account, which bounds how fast one address can guess across accounts.

Guesses spread over many addresses meet a ceiling per account: once an account has failed that
often in its window, only addresses it has logged in from before (remembered for a month) may
still try. The owner keeps working from the office and the phone; a botnet stops guessing.
"""

from __future__ import annotations

import hashlib

from redis.asyncio import Redis

from app.auth.errors import TooManyLoginAttempts
from app.core.config import Settings


def _key(kind: str, *values: str) -> str:
    # Hash the identifiers: Redis keys should not carry login names or addresses in clear.
    text = "\0".join(value.lower() for value in values)
    return f"login:{kind}:" + hashlib.sha256(text.encode()).hexdigest()[:32]


class LoginThrottle:
    def __init__(self, redis: Redis, settings: Settings) -> None:
        self._redis = redis
        self._settings = settings

    async def admit(self, account: str | None, address: str) -> None:
        """Count this attempt against the address; refuse if the address has reached its limit,
        or has failed too often for this account."""
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
        failures_key = _key("fail", account, address)
        pipe = self._redis.pipeline(transaction=True)
        pipe.get(failures_key)
        pipe.ttl(failures_key)
        failures, ttl = await pipe.execute()
        if failures is not None and int(failures) >= s.login_account_max_failures:
            raise TooManyLoginAttempts(
                "该账号在此网络地址连续登录失败次数过多，请稍后再试",
                retry_after=ttl if ttl > 0 else s.login_account_window_seconds,
            )
        pipe = self._redis.pipeline(transaction=True)
        pipe.get(_key("acct", account))
        pipe.ttl(_key("acct", account))
        pipe.exists(_key("known", account, address))
        everywhere, ttl, known = await pipe.execute()
        if everywhere is not None and int(everywhere) >= s.login_account_ceiling and not known:
            raise TooManyLoginAttempts(
                "该账号近期登录失败次数过多，暂时只能在曾经成功登录过的网络地址登录",
                retry_after=ttl if ttl > 0 else s.login_account_ceiling_window_seconds,
            )

    async def failed(self, account: str, address: str) -> None:
        s = self._settings
        key = _key("fail", account, address)
        everywhere = _key("acct", account)
        pipe = self._redis.pipeline(transaction=True)
        pipe.set(key, 0, ex=s.login_account_window_seconds, nx=True)
        pipe.incr(key)
        pipe.set(everywhere, 0, ex=s.login_account_ceiling_window_seconds, nx=True)
        pipe.incr(everywhere)
        await pipe.execute()

    async def succeeded(self, account: str, address: str) -> None:
        pipe = self._redis.pipeline(transaction=True)
        pipe.delete(_key("fail", account, address))
        pipe.set(_key("known", account, address), 1, ex=self._settings.login_known_address_seconds)
        await pipe.execute()
