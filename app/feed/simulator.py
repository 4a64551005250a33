"""`wengang feed-simulator`: the monitoring feed of `FEED.md`, served from a synthetic population
(`app.feed.synthetic`), with the failures a real one has, on demand.

`wengang dev` runs it for the demo county; the tests and `bench/feed_pull.py` talk to the same
app, in process (`httpx.ASGITransport`) or on loopback (`FeedSimulatorServer`).

Failures (`Faults`), each off by default: a 429 with `Retry-After` every Nth request, a share
of 5xx answers, a hang longer than a client waits every Nth request, a delay on every page,
malformed records every Nth record (`SyntheticFeed.bad_every`), and a token that stops
working after N requests. Tests can also line up the next answers exactly (`plan`).

`POST /v1/updates` keeps every answer by `Idempotency-Key`: the same key and body again get the
same answer and change nothing; the same key with another body is refused (422).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import socket
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from app.core.periods import is_period
from app.feed.synthetic import Draws, Position, SyntheticFeed
from app.policy.values import EmploymentStatus, ObservationSource

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000

# What `plan` lines up: an answer for the next request, whatever it asks.
PLANNED = frozenset(
    {
        "429",  # Too Many Requests, with the configured Retry-After
        "500",
        "502",
        "503",
        "401",  # the token refused
        "403",
        "hang",  # no answer before the client gives up; then the request's own answer
        "drop",  # an update applied, then no answer before the client gives up
        "garbage",  # 200 with a body that is not JSON
        "shape",  # 200 with JSON of the wrong shape
    }
)
_PUSHED_SOURCES = frozenset({ObservationSource.visit.value, ObservationSource.manual.value})
_STATUSES = frozenset(status.value for status in EmploymentStatus)


@dataclass
class Faults:
    """The failures the feed shows on its own (0 turns each off)."""

    rate_limit_every: int = 0  # every Nth request answers 429
    retry_after: str = "1"  # its Retry-After: seconds, or an HTTP date
    error_rate: float = 0.0  # this share of requests answers 503 (drawn from the seed)
    timeout_every: int = 0  # every Nth request hangs `hang_seconds` before answering
    hang_seconds: float = 30.0
    page_delay: float = 0.0  # seconds before every page of records
    token_expires_after: int = 0  # the token is refused after this many requests


@dataclass
class Ledger:
    """What `POST /v1/updates` was told: the answer per key, the updates applied."""

    answers: dict[str, tuple[str, dict[str, Any]]] = field(default_factory=dict)
    # The last update applied per (member_no, period).
    applied: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    # One entry per update applied, with its key: an update applied twice shows twice.
    applications: list[tuple[str, str, str]] = field(default_factory=list)  # key, member, period


class FeedSimulator:
    """The feed as an ASGI app (`app`), its state inspectable by tests."""

    def __init__(
        self,
        feed: SyntheticFeed,
        *,
        token: str,
        faults: Faults | None = None,
        max_limit: int = MAX_LIMIT,
    ) -> None:
        self.feed = feed
        self.token = token
        self.faults = faults or Faults()
        self.max_limit = max_limit
        self.requests = 0
        self.authorised = 0
        self.planned: deque[str] = deque()
        self.ledger = Ledger()
        self.app = Starlette(
            routes=[
                Route("/v1/records", self.records, methods=["GET"]),
                Route("/v1/updates", self.updates, methods=["POST"]),
            ]
        )

    def plan(self, *answers: str) -> None:
        """The next requests' answers, in order, before any configured fault."""
        unknown = set(answers) - PLANNED
        if unknown:
            raise ValueError(f"unknown planned answers: {sorted(unknown)}")
        self.planned.extend(answers)

    def advance(self, epoch: int) -> None:
        """Another night: the feed now holds the changes up to `epoch`."""
        feed = self.feed
        self.feed = SyntheticFeed(
            feed.population,
            feed.seed,
            feed.villages,
            period=feed.period,
            epoch=epoch,
            change_every=feed.change_every,
            bad_every=feed.bad_every,
        )

    # --- the gate every request passes ---------------------------------------------------------

    async def _gate(self, request: Request) -> tuple[Response | None, str | None]:
        """A failure answer for this request, or None; and what is left to do after
        answering it (`drop`: apply, then hang)."""
        self.requests += 1
        number = self.requests
        if request.headers.get("authorization") != f"Bearer {self.token}":
            return _error(401, "invalid token"), None
        expires = self.faults.token_expires_after
        if expires and self.authorised >= expires:
            return _error(401, "token expired"), None
        self.authorised += 1
        if self.planned:
            planned = self.planned.popleft()
            if planned in ("hang", "drop"):
                return None, planned
            return self._planned_answer(planned), None
        faults = self.faults
        if faults.rate_limit_every and number % faults.rate_limit_every == 0:
            return self._too_many(), None
        if faults.error_rate and Draws(self.feed.seed, "fault", number).random() < (
            faults.error_rate
        ):
            return _error(503, "service unavailable"), None
        if faults.timeout_every and number % faults.timeout_every == 0:
            return None, "hang"
        return None, None

    def _planned_answer(self, planned: str) -> Response:
        if planned == "429":
            return self._too_many()
        if planned == "garbage":
            return PlainTextResponse("<html>gateway</html>", status_code=200)
        if planned == "shape":
            return JSONResponse({"items": [], "next": None})
        return _error(int(planned), "planned failure")

    def _too_many(self) -> Response:
        return JSONResponse(
            {"error": "rate limited"},
            status_code=429,
            headers={"Retry-After": self.faults.retry_after},
        )

    async def _hang(self) -> None:
        await asyncio.sleep(self.faults.hang_seconds)

    # --- the routes ----------------------------------------------------------------------------

    async def records(self, request: Request) -> Response:
        failure, then = await self._gate(request)
        if failure is not None:
            return failure
        if then:
            await self._hang()
        try:
            limit = int(request.query_params.get("limit", DEFAULT_LIMIT))
        except ValueError:
            return _error(400, "limit is not a number")
        if not 1 <= limit <= self.max_limit:
            return _error(400, f"limit must be between 1 and {self.max_limit}")
        cursor = request.query_params.get("cursor")
        try:
            start = Position.decode(cursor) if cursor else Position(0, 0)
            records, at, more = self.feed.page(start, limit)
        except ValueError as exc:
            return _error(400, str(exc))
        if self.faults.page_delay:
            await asyncio.sleep(self.faults.page_delay)
        return JSONResponse({"records": records, "next_cursor": at.encode(), "has_more": more})

    async def updates(self, request: Request) -> Response:
        failure, then = await self._gate(request)
        if failure is not None:
            return failure
        if then == "hang":
            await self._hang()
        key = request.headers.get("idempotency-key")
        if not key:
            return _error(400, "Idempotency-Key is required")
        try:
            body = json.loads(await request.body())
        except ValueError:
            return _error(400, "the body is not JSON")
        if not isinstance(body, dict) or not isinstance(body.get("updates"), list):
            return _error(400, 'the body must be {"updates": [...]}')
        digest = hashlib.sha256(
            json.dumps(body, sort_keys=True, ensure_ascii=False).encode()
        ).hexdigest()
        known = self.ledger.answers.get(key)
        if known is not None:
            if known[0] != digest:
                return _error(422, "this Idempotency-Key was used with another body")
            return JSONResponse(known[1], headers={"Idempotent-Replayed": "true"})
        answer = self._apply(key, body["updates"])
        self.ledger.answers[key] = (digest, answer)
        if then == "drop":
            await self._hang()
        return JSONResponse(answer)

    def _apply(self, key: str, updates: list[Any]) -> dict[str, Any]:
        rejected = []
        accepted = 0
        for index, update in enumerate(updates):
            reason = self._refusal(update)
            if reason:
                rejected.append({"index": index, "reason": reason})
                continue
            accepted += 1
            member_no, period = update["member_no"], update["period"]
            self.ledger.applied[(member_no, period)] = update
            self.ledger.applications.append((key, member_no, period))
        return {"accepted": accepted, "rejected": rejected}

    def _refusal(self, update: Any) -> str | None:
        """Why the feed refuses one update, or None."""
        if not isinstance(update, dict):
            return "更新不是对象"
        member_no = update.get("member_no")
        index = self.feed.index_of(member_no) if isinstance(member_no, str) else None
        if index is None:
            return f"成员编号 {member_no} 不存在"
        if self.feed.deleted(index, self.feed.epoch):
            return f"成员 {member_no} 已退出监测"
        period = update.get("period")
        if not isinstance(period, str) or not is_period(period):
            return "统计月份应为 YYYY-MM"
        employment = update.get("employment")
        if not isinstance(employment, dict) or employment.get("status") not in _STATUSES:
            return "务工状态应为 务工 或 未务工"
        if employment.get("period", period) != period:
            return "务工信息的统计月份与更新的不一致"
        months = employment.get("months")
        if not isinstance(months, int) or isinstance(months, bool) or not 0 <= months <= 12:
            return "务工时间(月)应为 0 到 12"
        if update.get("source") not in _PUSHED_SOURCES:
            return "来源应为 visit 或 manual"
        try:
            observed = datetime.fromisoformat(str(update.get("observed_at")))
        except ValueError:
            return "观察时间不是 ISO 8601 时间"
        if observed.utcoffset() is None:
            return "观察时间缺少时区"
        return None


def _error(status: int, message: str) -> Response:
    return JSONResponse({"error": message}, status_code=status)


class FeedSimulatorServer:
    """The simulator on a loopback port, in a thread of this process (`wengang dev`, tests)."""

    def __init__(self, simulator: FeedSimulator, host: str = "127.0.0.1", port: int = 0) -> None:
        self.simulator = simulator
        self.host = host
        if not port:
            with socket.socket() as probe:
                probe.bind((host, 0))
                port = probe.getsockname()[1]
        self.port = port
        config = uvicorn.Config(
            simulator.app, host=host, port=port, log_level="warning", log_config=None
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> None:
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"the feed simulator did not start on port {self.port}")
            time.sleep(0.02)

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=5)


def serve(simulator: FeedSimulator, host: str, port: int) -> None:
    """Serve in the foreground until Ctrl-C (`wengang feed-simulator`)."""
    uvicorn.run(simulator.app, host=host, port=port, log_level="warning", access_log=False)
