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

from app.auth.wechat import WeChatClient
from app.core.config import Settings

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
    (`WeChatClient.access_token`: `stable_token`, cached in Redis, one refresher)."""

    def __init__(self, settings: Settings, http: httpx.AsyncClient, redis: Redis) -> None:
        self._client = WeChatClient(settings, http, redis)
        self._http = http
        self._url = settings.wechat_api_base.rstrip("/") + SEND_PATH
        self._timeout = settings.wechat_timeout_seconds
        self._token: str | None = None

    async def token(self) -> str:
        """The access token, read from the cache once per batch, not once per message."""
        self._token = await self._client.access_token()
        return self._token

    async def _refresh(self, refused: str) -> str:
        if self._token is None or self._token == refused:
            self._token = await self._client.access_token(stale=refused)
        return self._token

    async def send(self, message: dict[str, Any]) -> Outcome:
        token = self._token or await self.token()
        for refreshed in (False, True):
            try:
                response = await self._http.post(
                    self._url,
                    params={"access_token": token},
                    json=message,
                    timeout=self._timeout,
                )
            except _NOT_SENT as exc:
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
                token = await self._refresh(token)
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
