"""Finding a route costs the same however many routes there are, and answers as before.

The application's own routes are checked against Starlette's full scan, request by request;
synthetic apps check the index's rules (order, parameters first, mounts, trailing slashes, a
changed route list) and measure the first registered route against the last.
"""

from __future__ import annotations

import json
import re
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest
from fastapi import APIRouter, FastAPI
from starlette.responses import PlainTextResponse
from starlette.routing import Host, Mount, Route

from app.cli import OPENAPI_PATH
from app.core.dispatch import RouteIndex, dispatch_by_prefix, literal_segments
from bench.asgi import drive

METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
SAMPLE_PARAM = re.compile(r"{([a-zA-Z_][a-zA-Z0-9_]*)(?::([a-z]+))?}")
# A value each path convertor accepts; a parameter without one takes any segment.
SAMPLE_VALUES = {"uuid": "0b7c6a4e-3f1d-4c2b-9a8e-5d6f7a8b9c0d", "int": "7"}


def sample_path(template: str) -> str:
    return SAMPLE_PARAM.sub(
        lambda m: SAMPLE_VALUES.get(m.group(2) or "", f"sample-{m.group(1)}"), template
    )


class RouteRecorder:
    """The app, remembering the route the last request was dispatched to."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.route: Any = None

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        self.route = None
        try:
            await self.app(scope, receive, send)
        finally:
            self.route = scope.get("route")


@contextmanager
def full_scan(app: FastAPI) -> Iterator[None]:
    """Starlette's own dispatch (every route in turn) for the block."""
    indexed = app.router.middleware_stack
    app.router.middleware_stack = app.router.app
    try:
        yield
    finally:
        app.router.middleware_stack = indexed


def answer(response: httpx.Response) -> dict[str, Any]:
    """What a client sees, less what differs between any two requests (ids, live counters)."""
    seen: dict[str, Any] = {
        "status": response.status_code,
        "content-type": response.headers.get("content-type"),
        "allow": response.headers.get("allow"),
        "location": response.headers.get("location"),
    }
    if response.status_code >= 300 and response.content:
        body = response.json()
        body.pop("request_id", None)
        seen["body"] = body
    return seen


def probes(app: FastAPI) -> list[str]:
    paths = {"/", "/nope", "/api", "/api/v1", "/api/v1/", "/api/v1/nope", "//healthz"}
    for route in app.routes:
        path = sample_path(getattr(route, "path", "/"))
        paths |= {path, path + "/", path.rstrip("/") + "/extra", path.replace("/api/v1", "/api")}
    return sorted(paths)


async def test_every_route_is_reached_with_each_of_its_methods(app):
    recorder = RouteRecorder(app)
    transport = httpx.ASGITransport(app=recorder)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        for route in app.routes:
            # Mounts answer for what is under them; the probes below cover them.
            for method in sorted(getattr(route, "methods", None) or ()):
                response = await http.request(method, sample_path(route.path))
                where = f"{method} {route.path}"
                assert recorder.route is route, where
                assert response.status_code not in (404, 405), where


async def test_answers_match_the_full_scan_for_every_probe(app):
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        for path in probes(app):
            for method in METHODS:
                indexed = answer(await http.request(method, path))
                with full_scan(app):
                    scanned = answer(await http.request(method, path))
                # Starlette's 405 names the first route's methods; ours every route's.
                if scanned["status"] == 405:
                    assert set(scanned["allow"].split(", ")) <= set(indexed["allow"].split(", "))
                    scanned["allow"] = indexed["allow"]
                assert indexed == scanned, f"{method} {path}"


async def test_405_allows_every_method_of_the_path(app, client):
    routes = [route for route in app.routes if getattr(route, "methods", None)]  # not mounts
    for path in {sample_path(route.path) for route in routes}:
        # Every route whose pattern takes the path: `/members/lookup` is also a member's id.
        methods = {m for r in routes if r.path_regex.match(path) for m in r.methods}
        unused = next(m for m in ("DELETE", "PUT", "PATCH", "POST", "GET") if m not in methods)
        response = await client.request(unused, path)
        assert response.status_code == 405, path
        assert response.headers["allow"] == ", ".join(sorted(methods)), path


async def test_unknown_paths_and_methods_answer_problems(client):
    missing = await client.get("/api/v1/nope")
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/problem+json"
    assert missing.json()["code"] == "not_found"
    wrong_method = await client.delete("/api/v1/me")
    assert wrong_method.status_code == 405
    assert wrong_method.headers["allow"] == "GET"
    assert wrong_method.json()["code"] == "method_not_allowed"
    slash = await client.get("/healthz/", follow_redirects=False)
    assert slash.status_code == 307
    assert slash.headers["location"] == "http://test/healthz"


async def test_openapi_document_is_whole_and_unchanged(client):
    served = await client.get("/openapi.json")
    assert served.status_code == 200
    assert served.json() == json.loads(OPENAPI_PATH.read_text(encoding="utf-8"))
    docs = await client.get("/docs")
    assert docs.status_code == 200
    assert "/openapi.json" in docs.text


def test_every_route_of_the_app_is_filed_below_the_root(app):
    index = RouteIndex(app.routes)
    assert index.everywhere == ()
    assert len(index.candidates("/healthz")) == 1
    assert len(index.candidates("/api/v1/me")) == 1


# ---------------------------------------------------------------------------------------------
# The index's rules, on small apps of their own.


def constant(answer: str) -> Callable[[], Any]:
    async def endpoint() -> dict[str, str]:
        return {"route": answer}

    return endpoint


async def get(app: Any, path: str, method: str = "GET", **kwargs: Any) -> httpx.Response:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        return await http.request(method, path, follow_redirects=False, **kwargs)


def test_literal_segments():
    def route(path: str) -> Route:
        return Route(path, constant(path))

    assert literal_segments(route("/api/v1/members/{member_id}/intent")) == ["api", "v1", "members"]
    assert literal_segments(route("/healthz")) == ["healthz"]
    assert literal_segments(route("/items/")) == ["items", ""]
    assert literal_segments(route("/")) == [""]
    assert literal_segments(route("/files/report-{day}.csv")) == ["files"]
    assert literal_segments(route("/{tenant}/items")) == []
    assert literal_segments(Mount("/static", app=PlainTextResponse("x"))) == ["static"]
    assert literal_segments(Mount("", app=PlainTextResponse("x"))) == []
    assert literal_segments(Host("example.org", app=PlainTextResponse("x"))) == []

    class OwnMatching(Route):
        def matches(self, scope: Any) -> Any:
            return super().matches(scope)

    assert literal_segments(OwnMatching("/healthz", constant("own"))) == []


async def test_registration_order_decides_as_in_a_full_scan():
    app = FastAPI()
    app.add_api_route("/{tenant}/items/special", constant("tenant first"))
    app.add_api_route("/items/{item_id}", constant("parameter"))
    app.add_api_route("/items/special", constant("shadowed"))
    app.add_api_route("/items/special", constant("post"), methods=["POST"])
    app.mount("/static", PlainTextResponse("mounted"))
    dispatch_by_prefix(app)

    assert (await get(app, "/items/special")).json() == {"route": "parameter"}
    assert (await get(app, "/acme/items/special")).json() == {"route": "tenant first"}
    assert (await get(app, "/items/special", "POST")).json() == {"route": "post"}
    assert (await get(app, "/static/app.js")).text == "mounted"
    wrong = await get(app, "/items/special", "DELETE")
    assert wrong.status_code == 405
    assert wrong.headers["allow"] == "GET, POST"  # every route matching the path
    # FastAPI's own routes take HEAD only when declared; Starlette's add it to GET.
    assert (await get(app, "/items/special", "HEAD")).status_code == 405
    assert (await get(app, "/docs", "HEAD")).status_code == 200
    assert (await get(app, "/items")).status_code == 404


async def test_trailing_slashes_redirect_as_before():
    app = FastAPI()
    app.add_api_route("/plain", constant("plain"))
    app.add_api_route("/slashed/", constant("slashed"))
    dispatch_by_prefix(app)

    to_plain = await get(app, "/plain/")
    assert (to_plain.status_code, to_plain.headers["location"]) == (307, "http://test/plain")
    to_slashed = await get(app, "/slashed?x=1")
    assert to_slashed.headers["location"] == "http://test/slashed/?x=1"
    assert (await get(app, "/other/")).status_code == 404

    strict = FastAPI(redirect_slashes=False)
    strict.add_api_route("/plain", constant("plain"))
    dispatch_by_prefix(strict)
    assert (await get(strict, "/plain/")).status_code == 404


async def test_root_path_is_left_out_of_the_match():
    app = FastAPI(root_path="/wengang")
    app.add_api_route("/healthz", constant("health"))
    dispatch_by_prefix(app)
    assert (await get(app, "/wengang/healthz")).json() == {"route": "health"}


async def test_index_follows_changes_to_the_route_list():
    app = FastAPI()
    app.add_api_route("/first", constant("first"))
    dispatch_by_prefix(app)
    assert (await get(app, "/first")).status_code == 200

    late = APIRouter(prefix="/late")
    late.add_api_route("/route", constant("late"))
    app.include_router(late)
    assert (await get(app, "/late/route")).json() == {"route": "late"}

    app.router.routes[-1] = Route("/late/route", lambda _: PlainTextResponse("replaced"))
    assert (await get(app, "/late/route")).text == "replaced"

    app.router.routes.pop()
    assert (await get(app, "/late/route")).status_code == 404

    app.router.routes = [Route("/fresh", lambda _: PlainTextResponse("fresh"))]
    assert (await get(app, "/fresh")).text == "fresh"
    assert (await get(app, "/first")).status_code == 404


def test_refuses_a_router_that_dispatches_otherwise():
    class OwnLoop(APIRouter):
        async def app(self, scope: Any, receive: Any, send: Any) -> None:
            await super().app(scope, receive, send)

    app = FastAPI()
    app.router = OwnLoop()
    with pytest.raises(RuntimeError, match="brought up to date"):
        dispatch_by_prefix(app)


# ---------------------------------------------------------------------------------------------
# Cost: the last registered of hundreds of routes against the first.

ROUTERS = 100  # of three routes each, as domain packages register them
FIRST, LAST = "/api/v1/d000/a", "/api/v1/d099/c"


def wide_app(indexed: bool) -> FastAPI:
    app = FastAPI()
    for number in range(ROUTERS):
        router = APIRouter(prefix=f"/api/v1/d{number:03}")
        router.add_api_route("/a", constant("a"))
        router.add_api_route("/b/{item_id}", constant("b"))
        router.add_api_route("/c", constant("c"))
        app.include_router(router)
    if indexed:
        dispatch_by_prefix(app)
    return app


def bytecode_instructions(app: FastAPI, path: str) -> int:
    """Python bytecode instructions executed by one request: exact, whatever the machine's load."""
    count = 0

    def per_instruction(frame: Any, event: str, arg: Any) -> Any:
        nonlocal count
        if event == "opcode":
            count += 1
        return per_instruction

    def per_call(frame: Any, event: str, arg: Any) -> Any:
        frame.f_trace_opcodes = True
        return per_instruction

    sys.settrace(per_call)
    try:
        drive(app, path)
    finally:
        sys.settrace(None)
    return count


def microseconds(app: FastAPI, paths: tuple[str, ...], rounds: int = 15, calls: int = 200):
    """Each path's cost per request: rounds interleaved, the fastest round of each kept (load on
    the machine only ever adds time)."""
    best = dict.fromkeys(paths, float("inf"))
    for _ in range(rounds):
        for path in paths:
            started = time.perf_counter()
            for _ in range(calls):
                drive(app, path)
            best[path] = min(best[path], (time.perf_counter() - started) / calls * 1e6)
    return best


@pytest.mark.parametrize("indexed", [True, False], ids=["indexed", "full scan"])
def test_last_route_costs_what_the_first_does(indexed):
    app = wide_app(indexed)
    assert len(app.routes) > 3 * ROUTERS
    # Also builds the index and pays each path's first-time costs before anything is counted.
    assert drive(app, FIRST) == drive(app, LAST) == 200
    instructions = bytecode_instructions(app, LAST) / bytecode_instructions(app, FIRST)
    if indexed:
        assert instructions <= 1.02, instructions
        cost = microseconds(app, (FIRST, LAST))
        assert cost[LAST] <= 1.1 * cost[FIRST], cost
    else:
        # The measurement sees the scan: without the index the last route costs several times
        # the first.
        assert instructions > 3, instructions
