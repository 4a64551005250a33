"""Request bodies are bounded before anything reads them.

A body declared (`Content-Length`) or streamed (chunked) past its limit answers 413
problem+json; the rest of it is never read, so an oversized body costs neither memory nor time.
A body declared within its limit passes untouched (the server holds it to its declared length);
only a chunked one is counted as it streams.
The limits: file uploads (multipart) have their own (some paths a larger one), every other
body the general one, and a request without an `Authorization` header a small one, since
every endpoint taking more than a login form needs a caller: an anonymous client cannot make
the service parse a large body before the token is checked. (A forged header gets at most
the general limit.)

Plain ASGI (not `BaseHTTPMiddleware`): it wraps every request.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.core.error_handlers import problem_response
from app.core.errors import PayloadTooLarge


class BodyTooLarge(Exception):
    """Raised from `receive` once a streamed body passes its limit."""


def _kib(size: int) -> str:
    return f"{size // 1024} KB" if size < 1024 * 1024 else f"{size / (1024 * 1024):g} MB"


class BodyLimitMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        *,
        body_bytes: int,
        upload_bytes: int,
        anonymous_bytes: int,
        upload_bytes_by_path: Mapping[str, int] | None = None,
    ) -> None:
        self.app = app
        self.body_bytes = body_bytes
        self.upload_bytes = upload_bytes
        self.anonymous_bytes = anonymous_bytes
        # Uploads with a limit of their own (a county's registry export is far larger than
        # a photo), by exact path.
        self.upload_bytes_by_path = dict(upload_bytes_by_path or {})

    def _limit(self, scope: Scope) -> tuple[int, int | None, str]:
        """The body's limit, its declared length, and what the limit is for."""
        declared: int | None = None
        authorised = False
        multipart = False
        for name, value in scope["headers"]:
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = None
            elif name == b"authorization":
                authorised = True
            elif name == b"content-type":
                multipart = value[:19].lower() == b"multipart/form-data"
        if not authorised:
            return min(self.anonymous_bytes, self.body_bytes), declared, "未登录的请求"
        if multipart:
            limit = self.upload_bytes_by_path.get(scope["path"], self.upload_bytes)
            return limit, declared, "上传的文件"
        return self.body_bytes, declared, "请求体"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit, declared, what = self._limit(scope)
        detail = f"{what}不得超过 {_kib(limit)}"
        if declared is not None and declared >= 0:
            if declared > limit:
                await self._refuse(scope, receive, send, detail)
            else:  # the server holds the body to its declared length: nothing to count
                await self.app(scope, receive, send)
            return
        received = 0
        exceeded = False
        started = False

        async def counted_receive() -> Message:
            nonlocal received, exceeded
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    exceeded = True
                    raise BodyTooLarge
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            # Whatever the app made of the interrupted body (a 400 from the parser, a 500), the
            # answer is the 413.
            if exceeded:
                return
            started = started or message["type"] == "http.response.start"
            await send(message)

        with contextlib.suppress(BodyTooLarge):
            await self.app(scope, counted_receive, guarded_send)
        if exceeded and not started:
            await self._refuse(scope, receive, send, detail)

    @staticmethod
    async def _refuse(scope: Scope, receive: Receive, send: Send, detail: str) -> None:
        response = problem_response(
            PayloadTooLarge.status,
            PayloadTooLarge.code,
            PayloadTooLarge.title,
            detail,
            headers={"Connection": "close"},
        )
        await response(scope, receive, send)
