"""A GET request driven through an ASGI app in-process, without a server: what the
in-process benchmarks (`dispatch.py`, `caller.py`) and the routing cost test share."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

EMPTY_BODY = {"type": "http.request", "body": b"", "more_body": False}


def get_scope(path: str, headers: Iterable[tuple[bytes, bytes]] = ()) -> dict[str, Any]:
    """The ASGI scope of `GET path` from a loopback client, with `headers` beside `Host`."""
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"bench"), *headers],
        "client": ("127.0.0.1", 50000),
        "server": ("bench", 80),
    }


async def receive() -> dict[str, Any]:
    return EMPTY_BODY


def drive(app: Any, path: str) -> int:
    """The status of one `GET path` through the whole app, driven without an event loop:
    for paths where nothing waits on I/O, so a figure holds the request's own work."""
    statuses: list[int] = []

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            statuses.append(message["status"])

    coroutine = app(get_scope(path), receive, send)
    try:
        while True:
            coroutine.send(None)
    except StopIteration:
        pass
    return statuses[0]
