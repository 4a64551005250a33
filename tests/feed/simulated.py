"""The feed simulator for tests: in process behind `httpx.ASGITransport`, and a `FeedClient`
on it whose waits are recorded instead of slept."""

from __future__ import annotations

from dataclasses import dataclass, field

import httpx

from app.feed.client import FeedClient
from app.feed.simulator import Faults, FeedSimulator
from app.feed.synthetic import SyntheticFeed

TOKEN = "test-feed-token"
BASE_URL = "http://feed.test"
PERIOD = "2026-11"
VILLAGES = ("450226100201", "450226100202", "450226101201")


@dataclass
class Sleeps:
    """An injected `sleep`: records what the client would have waited."""

    waited: list[float] = field(default_factory=list)

    async def __call__(self, seconds: float) -> None:
        self.waited.append(seconds)


def make_simulator(
    population: int = 200, *, faults: Faults | None = None, **feed: object
) -> FeedSimulator:
    synthetic = SyntheticFeed(population, 7, VILLAGES, period=PERIOD, **feed)  # type: ignore[arg-type]
    return FeedSimulator(synthetic, token=TOKEN, faults=faults)


def asgi_http(simulator: FeedSimulator) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=simulator.app), base_url=BASE_URL)


def make_client(
    http: httpx.AsyncClient,
    sleeps: Sleeps,
    *,
    token: str = TOKEN,
    base_url: str = BASE_URL,
    timeout: float = 5.0,
    max_attempts: int = 4,
) -> FeedClient:
    return FeedClient(
        http,
        base_url,
        token,
        timeout=timeout,
        max_attempts=max_attempts,
        backoff_base=0.5,
        sleep=sleeps,
        jitter=lambda: 1.0,
    )
