"""Finding a request's route at a cost that does not grow with the number of routes.

Starlette's router tries the routes one after another, in the order they were registered, until
a pattern matches: every route registered before the one a request wants costs it a regular
expression (about 2 µs each on our machines), and each new domain would make every request
slower. (FastAPI 0.137 made it worse: included routers are matched one after another, each
walking its own routes; pyproject.toml pins the release before that.)

`RouteIndex` files each route under the literal segments its path starts with:
`/api/v1/members/{member_id}/intent` under `api` → `v1` → `members`, `/healthz` under `healthz`.
A request walks its own path's segments down those nodes and tries only the routes filed along
the way, in registration order. Every segment before a route's first parameter is literal text
in its pattern, so a route that is not filed along a request's path cannot match it, and trying
the others in the same order answers exactly as the full scan does: the first full match, else
the first route matching the path with another method (405), else a redirect to the path with
or without its trailing slash when that one has a route, else 404. (One difference: a 405's
`Allow` lists the methods of every route of the path, where Starlette names only the first's.)
Routes the index cannot see into (a `Host`, a route class with its own `matches`) are filed at
the root: tried for every request, as before.

The index is built from the router's final route list on the first request, however the routes
were grouped into routers, and rebuilt after the list changes.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from fastapi import FastAPI
from fastapi.routing import APIRoute, APIWebSocketRoute
from starlette._utils import get_route_path
from starlette.datastructures import URL
from starlette.exceptions import HTTPException
from starlette.responses import PlainTextResponse, RedirectResponse
from starlette.routing import BaseRoute, Match, Mount, Route, Router, WebSocketRoute
from starlette.types import Receive, Scope, Send

# Route classes whose `matches` is a pattern anchored at the start of the path, so the literal
# segments before their first parameter must begin the request's path.
_PATTERN_MATCHES = frozenset(
    cls.matches for cls in (Route, APIRoute, WebSocketRoute, APIWebSocketRoute, Mount)
)


def literal_segments(route: BaseRoute) -> list[str]:
    """The segments every path this route matches starts with; [] when it cannot say."""
    path = getattr(route, "path", None)
    if type(route).matches not in _PATTERN_MATCHES or not isinstance(path, str):
        return []
    if not path.startswith("/"):  # a mount at the root ("")
        return []
    segments = []
    for segment in path[1:].split("/"):
        if "{" in segment:
            break
        segments.append(segment)
    return segments


class _Node:
    __slots__ = ("candidates", "children", "filed")

    def __init__(self) -> None:
        self.children: dict[str, _Node] = {}
        self.filed: list[tuple[int, BaseRoute]] = []
        # The routes filed here and at every node above, in registration order.
        self.candidates: tuple[BaseRoute, ...] = ()


class RouteIndex:
    """The routes a request path can match, by the literal segments the routes start with."""

    def __init__(self, routes: Iterable[BaseRoute]) -> None:
        self._root = _Node()
        for position, route in enumerate(routes):
            node = self._root
            for segment in literal_segments(route):
                node = node.children.setdefault(segment, _Node())
            node.filed.append((position, route))
        self._merge(self._root, [])

    def _merge(self, node: _Node, above: list[tuple[int, BaseRoute]]) -> None:
        filed = sorted([*above, *node.filed], key=lambda entry: entry[0])
        node.candidates = tuple(route for _, route in filed)
        for child in node.children.values():
            self._merge(child, filed)

    @property
    def everywhere(self) -> tuple[BaseRoute, ...]:
        """The routes tried for every request: those filed at the root."""
        return tuple(route for _, route in self._root.filed)

    def candidates(self, route_path: str) -> tuple[BaseRoute, ...]:
        node = self._root
        if route_path.startswith("/"):
            for segment in route_path[1:].split("/"):
                child = node.children.get(segment)
                if child is None:
                    break
                node = child
        return node.candidates


class _TrackedRoutes(list[BaseRoute]):
    """A router's route list that counts its changes, so a stale index is noticed at once."""

    changes = 0


def _counting(name: str) -> Any:
    """`list.<name>`, counting a change first (each of these methods changes the list)."""
    method = getattr(list, name)

    def changing(self: _TrackedRoutes, *args: Any, **kwargs: Any) -> Any:
        self.changes += 1
        return method(self, *args, **kwargs)

    changing.__name__ = name
    return changing


for _name in (
    "append",
    "extend",
    "insert",
    "remove",
    "pop",
    "clear",
    "sort",
    "reverse",
    "__setitem__",
    "__delitem__",
    "__iadd__",
    "__imul__",
):
    setattr(_TrackedRoutes, _name, _counting(_name))


class IndexedDispatch:
    """The innermost ASGI app of a router: Starlette's dispatch over `RouteIndex` candidates.

    Lifespan and websocket scopes go to the router's own dispatch.
    """

    def __init__(self, router: Router) -> None:
        self.router = router
        self._fallback = router.app
        self._index: RouteIndex | None = None
        self._routes: _TrackedRoutes | None = None
        self._changes = -1

    def index(self) -> RouteIndex:
        routes = self.router.routes
        if routes is not self._routes or routes.changes != self._changes:  # type: ignore[attr-defined]
            if not isinstance(routes, _TrackedRoutes):
                routes = self.router.routes = _TrackedRoutes(routes)
            self._index = RouteIndex(routes)
            self._routes, self._changes = routes, routes.changes
        assert self._index is not None
        return self._index

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._fallback(scope, receive, send)
            return
        if "router" not in scope:
            scope["router"] = self.router
        index = self.index()
        route_path = get_route_path(scope)
        partials: list[tuple[BaseRoute, Scope]] = []
        for route in index.candidates(route_path):
            match, child_scope = route.matches(scope)
            if match is Match.FULL:
                await self._handle(route, child_scope, scope, receive, send)
                return
            if match is Match.PARTIAL:
                partials.append((route, child_scope))
        if partials:
            await self._method_not_allowed(partials, scope, receive, send)
            return
        if self.router.redirect_slashes and route_path != "/":
            redirect_scope = dict(scope)
            if route_path.endswith("/"):
                redirect_scope["path"] = redirect_scope["path"].rstrip("/")
            else:
                redirect_scope["path"] = redirect_scope["path"] + "/"
            if _any_match(index.candidates(get_route_path(redirect_scope)), redirect_scope):
                redirect = RedirectResponse(url=str(URL(scope=redirect_scope)))
                await redirect(scope, receive, send)
                return
        await self.router.default(scope, receive, send)

    @staticmethod
    async def _method_not_allowed(
        partials: list[tuple[BaseRoute, Scope]], scope: Scope, receive: Receive, send: Send
    ) -> None:
        """405 from the first route matching the path, as Starlette answers, but `Allow` names
        the methods of every route of the path (FastAPI makes a route per method)."""
        route, child_scope = partials[0]
        scope["route"] = route
        scope.update(child_scope)
        methods = sorted({m for r, _ in partials for m in getattr(r, "methods", None) or ()})
        headers = {"Allow": ", ".join(methods)}
        if "app" in scope:
            raise HTTPException(status_code=405, headers=headers)
        response = PlainTextResponse("Method Not Allowed", status_code=405, headers=headers)
        await response(scope, receive, send)

    @staticmethod
    async def _handle(
        route: BaseRoute, child_scope: Scope, scope: Scope, receive: Receive, send: Send
    ) -> None:
        scope["route"] = route
        scope.update(child_scope)
        await route.handle(scope, receive, send)


def _any_match(routes: Sequence[BaseRoute], scope: Scope) -> bool:
    return any(route.matches(scope)[0] is not Match.NONE for route in routes)


def dispatch_by_prefix(app: FastAPI) -> IndexedDispatch:
    """Route `app`'s requests through a `RouteIndex` (see the module's docstring)."""
    router = app.router
    # IndexedDispatch repeats the loop of Starlette's `Router.app`; a router class with a loop
    # of its own (FastAPI from 0.137 on), or middleware on the router, would be bypassed.
    if type(router).app is not Router.app or router.middleware_stack != router.app:
        raise RuntimeError(
            f"{type(router).__qualname__} does not dispatch with Starlette's Router.app: "
            "app.core.dispatch must be brought up to date with the pinned FastAPI"
        )
    dispatch = IndexedDispatch(router)
    router.middleware_stack = dispatch
    return dispatch
