"""Request bodies past their limit answer 413 before the rest is read."""

from __future__ import annotations

import json
import time
from typing import Any

from app.auth.models import Role
from app.core.body_limit import BodyLimitMiddleware

MB = 1024 * 1024
LOGIN = "/api/v1/auth/token"
REFRESH = "/api/v1/auth/refresh"
JOBS = "/api/v1/jobs"


class Sent:
    """An ASGI exchange driven by hand: what the app pulled of the body, and what it answered."""

    def __init__(self) -> None:
        self.pulled = 0
        self.status: int | None = None
        self.headers: dict[bytes, bytes] = {}
        self.body = b""

    def json(self) -> Any:
        return json.loads(self.body)


async def _call(
    app: Any, method: str, path: str, headers: dict[str, str], chunks: list[bytes]
) -> Sent:
    sent = Sent()
    pending = list(chunks)

    async def receive() -> dict[str, Any]:
        if not pending:
            return {"type": "http.request", "body": b"", "more_body": False}
        chunk = pending.pop(0)
        sent.pulled += len(chunk)
        return {"type": "http.request", "body": chunk, "more_body": bool(pending)}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            sent.status = message["status"]
            sent.headers = dict(message["headers"])
        else:
            sent.body += message.get("body", b"")

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
        "client": ("127.0.0.1", 1234),
        "server": ("test", 80),
        "app": app,
    }
    await app(scope, receive, send)
    return sent


def _refused(sent: Sent, detail: str) -> None:
    assert sent.status == 413
    assert sent.headers[b"content-type"] == b"application/problem+json"
    problem = sent.json()
    assert problem["code"] == "payload_too_large"
    assert detail in problem["detail"]


async def test_an_anonymous_large_body_is_refused_unread(app):
    """An unauthenticated 5 MB body is refused at once: not a byte is read, nothing parsed."""
    started = time.perf_counter()
    sent = await _call(
        app,
        "POST",
        LOGIN,
        {"content-type": "application/json", "content-length": str(5 * MB)},
        [b"x" * (5 * MB)],
    )
    assert time.perf_counter() - started < 0.5
    _refused(sent, "未登录的请求不得超过 16 KB")
    assert sent.pulled == 0


async def test_an_anonymous_chunked_body_stops_at_its_limit(app):
    chunks = [b"[" + b"1," * 4096] * 40  # ~320 KB in ~8 KB chunks, no Content-Length
    sent = await _call(app, "POST", REFRESH, {"content-type": "application/json"}, chunks)
    _refused(sent, "未登录的请求")
    assert sent.pulled <= 16 * 1024 + len(chunks[0])


async def test_a_signed_in_body_over_one_megabyte_is_refused(app, make_user, auth):
    headers = {
        **auth(await make_user(Role.coordinator, ["450226100201"])),
        "content-type": "application/json",
    }
    declared = await _call(
        app, "POST", JOBS, {**headers, "content-length": str(2 * MB)}, [b"{" * (2 * MB)]
    )
    _refused(declared, "请求体不得超过 1 MB")
    assert declared.pulled == 0
    # Chunked: whatever the parser made of the cut-off body, the answer is the 413.
    chunks = [b'{"a": "' + b"x" * (64 * 1024)] * 40
    streamed = await _call(app, "POST", JOBS, headers, chunks)
    _refused(streamed, "请求体不得超过 1 MB")
    assert streamed.pulled <= MB + len(chunks[0])
    assert streamed.json()["request_id"]


async def test_bodies_under_the_limits_pass(app, client, make_user):
    """A login form, anonymous and small, is served as before."""
    await make_user(Role.admin, username="ops")
    response = await client.post(
        LOGIN, data={"grant_type": "password", "username": "ops", "password": "wrong"}
    )
    assert response.status_code == 401


async def _echo(scope: Any, receive: Any, send: Any) -> None:
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": str(len(body)).encode()})


async def test_file_uploads_have_their_own_limit():
    limited = BodyLimitMiddleware(
        _echo, body_bytes=1024 * 1024, upload_bytes=4 * MB, anonymous_bytes=16 * 1024
    )
    signed_in = {"authorization": "Bearer x"}
    multipart = {**signed_in, "content-type": "multipart/form-data; boundary=b"}
    upload = await _call(limited, "POST", "/", multipart, [b"x" * (3 * MB)])
    assert (upload.status, upload.body) == (200, str(3 * MB).encode())
    json_body = {**signed_in, "content-type": "application/json"}
    assert (await _call(limited, "POST", "/", json_body, [b"x" * (3 * MB)])).status == 413
    assert (await _call(limited, "POST", "/", multipart, [b"x" * (5 * MB)])).status == 413
    anonymous = {"content-type": "multipart/form-data; boundary=b"}
    assert (await _call(limited, "POST", "/", anonymous, [b"x" * (32 * 1024)])).status == 413
