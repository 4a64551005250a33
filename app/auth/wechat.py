"""The WeChat server API: code → session, phone numbers, and the app's access token.

Error codes are mapped to problems a phone can act on. The access token is cached in Redis
and refreshed by whichever process holds a lock, so a busy fleet asks WeChat once.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any

import httpx
from redis.asyncio import Redis

from app.auth.errors import (
    WeChatBusy,
    WeChatCodeInvalid,
    WeChatFailed,
    WeChatRateLimited,
    WeChatUserBlocked,
)
from app.core.config import Settings

logger = logging.getLogger("wengang.wechat")

ACCESS_TOKEN_KEY = "wechat:access_token"
ACCESS_TOKEN_LOCK = "wechat:access_token:lock"
# Refresh this long before WeChat's own expiry, so no request carries a token about to die.
ACCESS_TOKEN_MARGIN_SECONDS = 300
BUSY_RETRY_DELAYS = (0.2, 0.6)


@dataclass(frozen=True, slots=True)
class WeChatSession:
    openid: str
    unionid: str | None
    # session_key stays on the server: it is never stored or sent to the client.


def _raise_for_errcode(body: dict[str, Any]) -> None:
    errcode = body.get("errcode") or 0
    if errcode == 0:
        return
    errmsg = str(body.get("errmsg", ""))
    if errcode == 40029 or errcode == 40163:
        raise WeChatCodeInvalid(f"微信返回 {errcode}")
    if errcode == 45011:
        raise WeChatRateLimited()
    if errcode == 40226:
        raise WeChatUserBlocked()
    if errcode == -1:
        raise WeChatBusy()
    logger.warning("wechat error", extra={"errcode": errcode, "errmsg": errmsg})
    raise WeChatFailed(f"微信返回错误 {errcode}")


class WeChatClient:
    def __init__(self, settings: Settings, http: httpx.AsyncClient, redis: Redis) -> None:
        self._settings = settings
        self._http = http
        self._redis = redis
        self._base = settings.wechat_api_base.rstrip("/")

    async def _call(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        """One WeChat call, retrying `-1` (system busy) a couple of times before giving up."""
        for attempt, delay in enumerate((*BUSY_RETRY_DELAYS, None)):
            try:
                response = await self._http.request(
                    method,
                    self._base + path,
                    timeout=self._settings.wechat_timeout_seconds,
                    **kwargs,
                )
                body = response.json()
            except (httpx.HTTPError, ValueError) as exc:
                if delay is None:
                    raise WeChatBusy("无法连接微信服务器") from exc
                await asyncio.sleep(delay)
                continue
            if not isinstance(body, dict):
                raise WeChatFailed("微信返回了无法识别的内容")
            if body.get("errcode") == -1 and delay is not None:
                logger.info("wechat busy, retrying", extra={"attempt": attempt + 1})
                await asyncio.sleep(delay)
                continue
            return body
        raise AssertionError("unreachable")

    async def code_to_session(self, code: str) -> WeChatSession:
        body = await self._call(
            "GET",
            "/sns/jscode2session",
            params={
                "appid": self._settings.wechat_app_id,
                "secret": self._settings.wechat_app_secret,
                "js_code": code,
                "grant_type": "authorization_code",
            },
        )
        _raise_for_errcode(body)
        openid = body.get("openid")
        if not isinstance(openid, str) or not openid:
            raise WeChatFailed("微信未返回 openid")
        return WeChatSession(openid=openid, unionid=body.get("unionid"))

    async def phone_number(self, code: str) -> str:
        token: str | None = None
        for attempt in range(2):
            token = await self.access_token(stale=token)
            body = await self._call(
                "POST",
                "/wxa/business/getuserphonenumber",
                params={"access_token": token},
                json={"code": code},
            )
            # 40001/42001: our cached token was invalidated early; refresh once and retry.
            if body.get("errcode") in (40001, 42001) and attempt == 0:
                continue
            _raise_for_errcode(body)
            info = body.get("phone_info") or {}
            phone = info.get("purePhoneNumber") or info.get("phoneNumber")
            if not isinstance(phone, str) or not phone:
                raise WeChatFailed("微信未返回手机号")
            return phone
        raise WeChatFailed("微信接口调用凭证无效")

    async def access_token(self, *, stale: str | None = None) -> str:
        """The app's access token; `stale` is one WeChat just refused, to be replaced."""
        cached = await self._cached_token()
        if cached and cached != stale:
            return cached
        async with self._redis.lock(ACCESS_TOKEN_LOCK, timeout=15, blocking_timeout=15):
            # Another holder may have refreshed it while we waited for the lock.
            cached = await self._cached_token()
            if cached and cached != stale:
                return cached
            body = await self._call(
                "POST",
                "/cgi-bin/stable_token",
                json={
                    "grant_type": "client_credential",
                    "appid": self._settings.wechat_app_id,
                    "secret": self._settings.wechat_app_secret,
                    "force_refresh": stale is not None,
                },
            )
            _raise_for_errcode(body)
            token = body.get("access_token")
            if not isinstance(token, str) or not token:
                raise WeChatFailed("微信未返回 access_token")
            ttl = max(60, int(body.get("expires_in", 7200)) - ACCESS_TOKEN_MARGIN_SECONDS)
            await self._redis.set(ACCESS_TOKEN_KEY, token, ex=ttl)
            return token

    async def _cached_token(self) -> str | None:
        cached = await self._redis.get(ACCESS_TOKEN_KEY)
        if cached is None:
            return None
        return cached.decode() if isinstance(cached, bytes) else str(cached)
