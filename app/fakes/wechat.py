"""A fake WeChat server API, served over real HTTP on loopback, for `wengang dev` and the tests.

Codes steer its answers: `ok-<openid>` logs in, `bad` is 40029, `limit` 45011, `blocked`
40226, `busy` is always -1, `busyonce-<openid>` is -1 once then fine; `phone-<digits>` yields
that phone number. Any other code, such as the mini-program's own from `wx.login` or
`getPhoneNumber` against `wengang dev`, logs in as one WeChat user (`DEV_OPENID`) and yields
`DEV_PHONE`, a phone no demo account has.

Subscribe messages (`/cgi-bin/message/subscribe/send`) are recorded as they arrive (before any
delay, as WeChat would have delivered them). Switches for tests: `send_failures` answers that
many 5xx first, `send_busy` that many `-1`; `send_delay` holds each answer (without blocking
other requests); `send_quota` per openid answers 43101 once spent (no entry: no limit).
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

# WeChat's own limits on a subscribe message's values, by kind: longer is 47003.
VALUE_LIMITS = {"thing": 20, "phrase": 5, "name": 10, "number": 32, "character_string": 32}
DEV_OPENID = "dev-openid"
DEV_PHONE = "13900000000"


@dataclass
class FakeWeChatState:
    calls: dict[str, int] = field(default_factory=dict)
    busy_seen: set[str] = field(default_factory=set)
    token_serial: int = 0
    valid_tokens: set[str] = field(default_factory=set)
    stable_token_delay: float = 0.0
    stable_token_refusals: int = 0  # answer this many token requests with errcode 45009
    # Subscribe messages WeChat accepted, in arrival order, and the switches described above.
    messages: list[dict[str, Any]] = field(default_factory=list)
    send_failures: int = 0
    send_busy: int = 0
    send_delay: float = 0.0
    send_quota: dict[str, int] = field(default_factory=dict)

    def reset(self) -> None:
        self.calls.clear()
        self.busy_seen.clear()
        self.valid_tokens.clear()
        self.stable_token_delay = 0.0
        self.stable_token_refusals = 0
        self.messages.clear()
        self.send_failures = self.send_busy = 0
        self.send_delay = 0.0
        self.send_quota.clear()

    def count(self, name: str) -> None:
        self.calls[name] = self.calls.get(name, 0) + 1


def _code_error(code: str, state: FakeWeChatState) -> dict[str, Any] | None:
    if code == "bad":
        return {"errcode": 40029, "errmsg": "invalid code"}
    if code == "limit":
        return {"errcode": 45011, "errmsg": "api minute-quota reach limit"}
    if code == "blocked":
        return {"errcode": 40226, "errmsg": "high risk user"}
    if code == "busy":
        return {"errcode": -1, "errmsg": "system error"}
    if code.startswith("busyonce-") and code not in state.busy_seen:
        state.busy_seen.add(code)
        return {"errcode": -1, "errmsg": "system error"}
    return None


def build_app(state: FakeWeChatState) -> FastAPI:
    app = FastAPI()

    @app.get("/sns/jscode2session")
    async def jscode2session(js_code: str, appid: str, secret: str, grant_type: str) -> Any:
        state.count("jscode2session")
        error = _code_error(js_code, state)
        if error:
            return error
        steered = js_code.startswith(("ok-", "busyonce-"))
        openid = js_code.split("-", 1)[1] if steered else DEV_OPENID
        return {"openid": openid, "session_key": "SECRET-SESSION-KEY", "unionid": "u-" + openid}

    @app.post("/cgi-bin/stable_token")
    async def stable_token(request: Request) -> Any:
        state.count("stable_token")
        body = await request.json()
        if body.get("grant_type") != "client_credential":
            return {"errcode": 40002, "errmsg": "invalid grant_type"}
        if state.stable_token_refusals:
            state.stable_token_refusals -= 1
            return {"errcode": 45009, "errmsg": "reach max api daily quota limit"}
        if state.stable_token_delay:
            time.sleep(state.stable_token_delay)  # noqa: ASYNC251 - blocks only the fake
        state.token_serial += 1
        token = f"token-{state.token_serial}"
        state.valid_tokens.add(token)
        return {"access_token": token, "expires_in": 7200}

    @app.post("/wxa/business/getuserphonenumber")
    async def phone(access_token: str, request: Request) -> Any:
        state.count("getuserphonenumber")
        if access_token not in state.valid_tokens:
            return {"errcode": 40001, "errmsg": "invalid credential"}
        code = (await request.json()).get("code", "")
        error = _code_error(code, state)
        if error:
            return error
        steered = code.startswith(("phone-", "busyonce-"))
        digits = code.split("-", 1)[1] if steered else DEV_PHONE
        return {
            "errcode": 0,
            "errmsg": "ok",
            "phone_info": {"phoneNumber": digits, "purePhoneNumber": digits, "countryCode": "86"},
        }

    @app.post("/cgi-bin/message/subscribe/send")
    async def subscribe_send(access_token: str, request: Request) -> Any:
        state.count("subscribe_send")
        if state.send_failures > 0:
            state.send_failures -= 1
            return JSONResponse({"errcode": -1, "errmsg": "bad gateway"}, status_code=502)
        if access_token not in state.valid_tokens:
            return {"errcode": 40001, "errmsg": "invalid credential"}
        if state.send_busy > 0:
            state.send_busy -= 1
            return {"errcode": -1, "errmsg": "system error"}
        message = await request.json()
        touser = message.get("touser")
        if not touser or not message.get("template_id") or not message.get("data"):
            return {"errcode": 47003, "errmsg": "argument invalid!"}
        for key, item in message["data"].items():
            limit = VALUE_LIMITS.get(key.rstrip("0123456789"))
            value = str(item.get("value", ""))
            if not value or (limit is not None and len(value) > limit):
                return {"errcode": 47003, "errmsg": f"argument invalid! data.{key}.value invalid"}
        if touser in state.send_quota:
            if state.send_quota[touser] <= 0:
                return {"errcode": 43101, "errmsg": "user refuse to accept the msg"}
            state.send_quota[touser] -= 1
        state.messages.append(message)
        if state.send_delay:
            await asyncio.sleep(state.send_delay)
        return {"errcode": 0, "errmsg": "ok", "msgid": len(state.messages)}

    return app


class FakeWeChatServer:
    """The fake in a thread of this process, on a free loopback port."""

    def __init__(self) -> None:
        self.state = FakeWeChatState()
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        config = uvicorn.Config(
            build_app(self.state),
            host="127.0.0.1",
            port=self.port,
            log_level="warning",
            log_config=None,  # the process's own logging, not uvicorn's
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("fake WeChat server did not start")
            time.sleep(0.02)

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=5)
