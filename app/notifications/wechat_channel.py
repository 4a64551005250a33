"""The WeChat channel: one subscribe message (`/cgi-bin/message/subscribe/send`) and what its
answer means for the notification.

Only an answer that certainly means "not delivered" is tried again (a 5xx, `-1` system busy, a
connection that never opened, a token WeChat refused). A call that may have reached WeChat but
whose answer was lost (a read timeout, a connection dropped mid-answer) is `unknown`: WeChat
has no idempotency key, so sending it again could deliver it twice.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import httpx
from redis.asyncio import Redis
from redis.exceptions import LockError

from app.auth.wechat import WeChatClient
from app.core.config import Settings
from app.core.errors import AppError

logger = logging.getLogger("wengang.notifications")

SEND_PATH = "/cgi-bin/message/subscribe/send"
# The user has no subscription left for the template (or never accepted one).
NO_SUBSCRIPTION = 43101
# Our cached access token was invalidated early: refresh it and send again.
TOKEN_REFUSED = frozenset({40001, 42001})
# Try again later: system busy; the app's minute or day quota of calls.
TRANSIENT_ERRCODES = frozenset({-1, 45009, 45011})
# Never reached WeChat, or it could not have acted: safe to send again.
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
# WeChat refused or failed the token request, or another worker held the refresh too long.
_NO_TOKEN = (AppError, httpx.HTTPError, LockError)


class Result(StrEnum):
    sent = "sent"
    retry = "retry"  # certainly not delivered; try again after a backoff
    inbox_only = "inbox_only"  # no subscription left (43101)
    failed = "failed"  # refused for good (bad openid, bad data…)
    unknown = "unknown"  # may or may not have been delivered: never sent again


@dataclass(frozen=True, slots=True)
class Outcome:
    result: Result
    error: str | None = None


class WeChatChannel:
    """Sends subscribe messages with the app's access token from the shared cache
    (`WeChatClient.access_token`: `stable_token`, cached in Redis, one refresher).

    It has HTTP pools of its own: one sized to the sends under way at once, and a small one
    for the token, so a refresh never waits behind a full pool of sends. A pool found full
    while no more than its own sends are under way has lost connections to a cancelled call
    (an httpcore defect): it is replaced before the next batch instead of failing every call
    after it."""

    def __init__(self, settings: Settings, redis: Redis) -> None:
        self._settings = settings
        self._redis = redis
        self._url = settings.wechat_api_base.rstrip("/") + SEND_PATH
        self._timeout = settings.wechat_timeout_seconds
        self._token_http = httpx.AsyncClient(timeout=httpx.Timeout(self._timeout))
        self._client = WeChatClient(settings, self._token_http, redis)
        self._http = self._sending_pool()
        self._poisoned = False
        self._token: str | None = None

    def _sending_pool(self) -> httpx.AsyncClient:
        size = self._settings.notification_concurrency
        return httpx.AsyncClient(
            limits=httpx.Limits(max_connections=size, max_keepalive_connections=size),
            timeout=httpx.Timeout(self._timeout),
        )

    async def aclose(self) -> None:
        await self._http.aclose()
        await self._token_http.aclose()

    async def ready(self) -> bool:
        """Whether a batch can be sent now: the access token, read from the cache once per
        batch, not once per message (refreshed when missing). False, and logged, when WeChat
        or the token lock gave none: nothing should be claimed."""
        if self._poisoned:
            await self._http.aclose()
            self._http = self._sending_pool()
            self._poisoned = False
        try:
            self._token = await self._client.access_token()
        except _NO_TOKEN as exc:
            logger.warning("no wechat access token", extra={"error": type(exc).__name__})
            return False
        return True

    async def _refresh(self, refused: str) -> str | None:
        if self._token is None or self._token == refused:
            try:
                self._token = await self._client.access_token(stale=refused)
            except _NO_TOKEN:
                return None
        return self._token

    async def send(self, message: dict[str, Any]) -> Outcome:
        token = self._token
        if token is None:
            return Outcome(Result.retry, "no access token")
        for refreshed in (False, True):
            try:
                response = await self._http.post(
                    self._url,
                    params={"access_token": token},
                    json=message,
                    timeout=self._timeout,
                )
            except _NOT_SENT as exc:
                if isinstance(exc, httpx.PoolTimeout):
                    self._poisoned = True
                return Outcome(Result.retry, f"connect: {type(exc).__name__}"[:64])
            except httpx.HTTPError as exc:
                return Outcome(Result.unknown, f"no answer: {type(exc).__name__}"[:64])
            if response.status_code >= 500:
                return Outcome(Result.retry, f"http {response.status_code}")
            try:
                body = response.json()
            except ValueError:
                return Outcome(Result.unknown, f"unreadable answer, http {response.status_code}")
            if not isinstance(body, dict) or response.status_code != 200:
                return Outcome(Result.failed, f"http {response.status_code}")
            errcode = body.get("errcode") or 0
            if errcode == 0:
                return Outcome(Result.sent)
            if errcode in TOKEN_REFUSED and not refreshed:
                fresh = await self._refresh(token)
                if fresh is None:
                    return Outcome(Result.retry, "no access token")
                token = fresh
                continue
            if errcode == NO_SUBSCRIPTION:
                return Outcome(Result.inbox_only, f"errcode {errcode}")
            if errcode in TRANSIENT_ERRCODES or errcode in TOKEN_REFUSED:
                return Outcome(Result.retry, f"errcode {errcode}")
            logger.warning(
                "wechat refused a message", extra={"errcode": errcode, "errmsg": body.get("errmsg")}
            )
            return Outcome(Result.failed, f"errcode {errcode}"[:64])
        raise AssertionError("unreachable")
