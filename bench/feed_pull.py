"""Pulling the whole feed from the simulator: `FeedClient` against a bare httpx loop (the floor).

    .venv/bin/python bench/feed_pull.py --population 100000 [--limit 1000] [--rounds 2]

The simulator runs in a process of its own (`wengang feed-simulator`, on loopback), so the
server's cost is the same for both and off the client's event loop. Both pull every page,
decode it and follow `next_cursor`; `FeedClient` adds its checks, timeouts and retry loop.
The adapter (`HttpFeedSource`) also maps every record into a `FeedRecord`. Each round runs them
one after the other, alternating which goes first; the best round of each counts.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable

import httpx

from app.core.config import PROJECT_ROOT
from app.feed.client import FeedClient
from app.feed.http_source import HttpFeedSource

TOKEN = "bench-feed-token"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start_simulator(population: int, port: int) -> subprocess.Popen[bytes]:
    process = subprocess.Popen(
        [sys.executable, "-m", "app.cli", "feed-simulator", "--port", str(port),
         "--population", str(population), "--period", "2026-11", "--token", TOKEN],
        cwd=PROJECT_ROOT,
        env={**os.environ, "APP_ENV": "development"},
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return process
        except OSError:
            time.sleep(0.2)
    process.kill()
    raise SystemExit("the feed simulator did not start")


async def bare(http: httpx.AsyncClient, base: str, limit: int) -> int:
    headers = {"Authorization": f"Bearer {TOKEN}"}
    cursor, count, more = None, 0, True
    while more:
        params: dict[str, str | int] = {"limit": limit}
        if cursor:
            params["cursor"] = cursor
        response = await http.get(f"{base}/v1/records", params=params, headers=headers)
        response.raise_for_status()
        body = response.json()
        count += len(body["records"])
        cursor, more = body["next_cursor"], body["has_more"]
    return count


async def client(http: httpx.AsyncClient, base: str, limit: int) -> int:
    feed = FeedClient(http, base, TOKEN, timeout=60)
    cursor, count, more = None, 0, True
    while more:
        page = await feed.fetch_page(cursor, limit)
        count += len(page.records)
        cursor, more = page.next_cursor, page.has_more
    return count


async def adapter(http: httpx.AsyncClient, base: str, limit: int) -> int:
    source = HttpFeedSource(FeedClient(http, base, TOKEN, timeout=60), limit)
    count = 0
    async for batch in source.batches(None):
        count += len(batch.records) + len(batch.errors)
    return count


Pull = Callable[[httpx.AsyncClient, str, int], Awaitable[int]]


async def measure(pull: Pull, base: str, limit: int, population: int) -> float:
    async with httpx.AsyncClient(timeout=60) as http:
        started = time.perf_counter()
        count = await pull(http, base, limit)
        elapsed = time.perf_counter() - started
    assert count == population, (pull.__name__, count)
    return elapsed


async def main(population: int, limit: int, rounds: int) -> None:
    port = _free_port()
    server = start_simulator(population, port)
    base = f"http://127.0.0.1:{port}"
    pulls: list[Pull] = [bare, client, adapter]
    best: dict[str, float] = {}
    try:
        for round_ in range(rounds):
            order = pulls if round_ % 2 == 0 else pulls[::-1]
            for pull in order:
                seconds = await measure(pull, base, limit, population)
                best[pull.__name__] = min(best.get(pull.__name__, seconds), seconds)
                print(f"round {round_ + 1} {pull.__name__:<8} {seconds:7.2f} s"
                      f"  {population / seconds:10,.0f} records/s", flush=True)  # fmt: skip
    finally:
        server.terminate()
        server.wait(timeout=10)
    floor = population / best["bare"]
    print(f"\n{population:,} records, pages of {limit}, best of {rounds} rounds")
    for name, seconds in best.items():
        rate = population / seconds
        print(
            f"  {name:<8} {seconds:7.2f} s  {rate:10,.0f} records/s  {rate / floor:5.2f}x the floor"
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--population", type=int, default=100_000)
    parser.add_argument("--limit", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=2)
    arguments = parser.parse_args()
    asyncio.run(main(arguments.population, arguments.limit, arguments.rounds))
