"""The feed's HTTP client against the simulator: paging, waiting out 429s, retrying 5xx,
timeouts and lost connections, stopping at once on 401/403, refusing malformed answers; and
the HTTP adapter's batches."""

from __future__ import annotations

import socket
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import httpx
import pytest

from app.feed.client import FeedError, FeedMalformed, FeedRefused, FeedUnavailable
from app.feed.http_source import HttpFeedSource
from app.feed.simulator import Faults, FeedSimulatorServer
from tests.feed.simulated import Sleeps, asgi_http, make_client, make_simulator


async def test_pages_through_the_whole_feed():
    simulator = make_simulator(1_000)
    async with asgi_http(simulator) as http:
        client = make_client(http, Sleeps())
        records, cursor, pages, more = [], None, 0, True
        while more:
            page = await client.fetch_page(cursor, 128)
            records += page.records
            cursor, more, pages = page.next_cursor, page.has_more, pages + 1
        assert pages == 8 and len(records) == 1_000
        assert len({r["member_no"] for r in records}) == 1_000
        # Nothing new: the last cursor answers an empty page.
        last = await client.fetch_page(cursor, 128)
        assert last.records == [] and not last.has_more and last.next_cursor == cursor


async def test_429_waits_what_retry_after_says():
    simulator = make_simulator(faults=Faults(retry_after="7"))
    simulator.plan("429", "429")
    sleeps = Sleeps()
    async with asgi_http(simulator) as http:
        page = await make_client(http, sleeps).fetch_page(None, 10)
    assert len(page.records) == 10
    assert sleeps.waited == [7.0, 7.0]


async def test_retry_after_as_a_date_and_capped():
    in_twenty = format_datetime(datetime.now(UTC) + timedelta(seconds=20), usegmt=True)
    simulator = make_simulator(faults=Faults(retry_after=in_twenty))
    simulator.plan("429")
    sleeps = Sleeps()
    async with asgi_http(simulator) as http:
        await make_client(http, sleeps).fetch_page(None, 10)
        assert 17 < sleeps.waited[0] <= 20
        simulator.faults.retry_after = "86400"
        simulator.plan("429")
        client = make_client(http, sleeps)
        client.retry_after_cap = 120
        await client.fetch_page(None, 10)
        assert sleeps.waited[1] == 120
        simulator.faults.retry_after = "soon"  # unusable: the backoff instead
        simulator.plan("429")
        await client.fetch_page(None, 10)
        assert sleeps.waited[2] == 0.5


async def test_5xx_is_retried_with_growing_backoff_then_succeeds():
    simulator = make_simulator()
    simulator.plan("503", "500", "502")
    sleeps = Sleeps()
    async with asgi_http(simulator) as http:
        page = await make_client(http, sleeps, max_attempts=4).fetch_page(None, 5)
    assert len(page.records) == 5
    assert sleeps.waited == [0.5, 1.0, 2.0]  # jitter pinned at its ceiling
    assert simulator.requests == 4


async def test_5xx_past_the_attempts_is_unavailable():
    simulator = make_simulator()
    simulator.plan("503", "503", "503", "503")
    sleeps = Sleeps()
    async with asgi_http(simulator) as http:
        with pytest.raises(FeedUnavailable, match=r"server error \(503\), 3 attempts"):
            await make_client(http, sleeps, max_attempts=3).fetch_page(None, 5)
    assert simulator.requests == 3 and len(sleeps.waited) == 2


async def test_a_timeout_is_retried():
    simulator = make_simulator(faults=Faults(hang_seconds=10))
    simulator.plan("hang")
    sleeps = Sleeps()
    async with asgi_http(simulator) as http:
        page = await make_client(http, sleeps, timeout=0.2).fetch_page(None, 5)
    assert len(page.records) == 5 and sleeps.waited == [0.5]


async def test_a_timeout_over_real_http_is_retried():
    """On loopback, through uvicorn: httpx's own timeouts, and the answer after."""
    simulator = make_simulator(faults=Faults(hang_seconds=5))
    server = FeedSimulatorServer(simulator)
    server.start()
    try:
        simulator.plan("hang")
        sleeps = Sleeps()
        async with httpx.AsyncClient() as http:
            client = make_client(http, sleeps, base_url=server.base_url, timeout=0.3)
            page = await client.fetch_page(None, 5)
        assert len(page.records) == 5 and sleeps.waited == [0.5]
    finally:
        server.stop()


async def test_a_refused_connection_is_retried_then_unavailable():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # closed once the block ends: nothing listens
    sleeps = Sleeps()
    async with httpx.AsyncClient() as http:
        client = make_client(http, sleeps, base_url=f"http://127.0.0.1:{port}", max_attempts=3)
        with pytest.raises(FeedUnavailable, match="ConnectError"):
            await client.fetch_page(None, 5)
    assert sleeps.waited == [0.5, 1.0]


@pytest.mark.parametrize("status", ["401", "403"])
async def test_401_and_403_stop_at_once(status):
    simulator = make_simulator()
    simulator.plan(status)
    sleeps = Sleeps()
    async with asgi_http(simulator) as http:
        with pytest.raises(FeedRefused) as refused:
            await make_client(http, sleeps).fetch_page(None, 5)
    assert refused.value.status == int(status)
    assert simulator.requests == 1 and sleeps.waited == []


async def test_a_wrong_or_expired_token_is_refused():
    simulator = make_simulator(faults=Faults(token_expires_after=1))
    async with asgi_http(simulator) as http:
        with pytest.raises(FeedRefused):
            await make_client(http, Sleeps(), token="wrong").fetch_page(None, 5)
        client = make_client(http, Sleeps())
        await client.fetch_page(None, 5)
        with pytest.raises(FeedRefused):
            await client.fetch_page(None, 5)


@pytest.mark.parametrize("answer", ["garbage", "shape"])
async def test_a_malformed_answer_is_an_error(answer):
    simulator = make_simulator()
    simulator.plan(answer)
    async with asgi_http(simulator) as http:
        with pytest.raises(FeedMalformed):
            await make_client(http, Sleeps()).fetch_page(None, 5)


async def test_another_4xx_is_an_error_not_retried():
    simulator = make_simulator()
    sleeps = Sleeps()
    async with asgi_http(simulator) as http:
        with pytest.raises(FeedError) as failed:
            await make_client(http, sleeps).fetch_page("not-a-cursor", 5)
    assert failed.value.status == 400 and sleeps.waited == []


async def test_post_updates_answers_accepted_and_rejected_by_index():
    simulator = make_simulator()
    member = simulator.feed.record(0)["member_no"]
    update = {
        "member_no": member,
        "period": "2026-11",
        "employment": {"status": "未务工", "region": None, "channel": None, "employer": None,
                       "months": 0, "income": None, "period": "2026-11"},
        "observed_at": "2026-11-20T10:00:00+08:00",
        "source": "manual",
    }  # fmt: skip
    unknown = {**update, "member_no": "4502261002019999999-01"}
    async with asgi_http(simulator) as http:
        client = make_client(http, Sleeps())
        answer = await client.post_updates("key-1", [update, unknown])
        assert answer.accepted == 1
        assert answer.rejected == [(1, "成员编号 4502261002019999999-01 不存在")]
        simulator.plan("shape")
        with pytest.raises(FeedMalformed):
            await client.post_updates("key-2", [update])


async def test_the_http_source_yields_a_batch_per_page():
    simulator = make_simulator(50, bad_every=7)
    async with asgi_http(simulator) as http:
        source = HttpFeedSource(make_client(http, Sleeps()), limit=20)
        batches = [batch async for batch in source.batches(None)]
        assert [b.rows_read for b in batches] == [20, 20, 10]
        assert [b.has_more for b in batches] == [True, True, False]
        # A refused record may have several errors: one line each.
        assert sum(len(b.records) + len({e.line for e in b.errors}) for b in batches) == 50
        # The records missing fields are refused, by their place in the page.
        missing = [(i, e.line) for i, b in enumerate(batches) for e in b.errors]
        assert missing and all(1 <= line <= 20 for _, line in missing)
        assert [r.line for r in batches[0].records][:3] == [1, 2, 3]
        # Resuming from a batch's position gives the batches after it.
        resumed = [batch async for batch in source.batches(batches[0].position)]
        assert [b.rows_read for b in resumed] == [20, 10]
        assert resumed[-1].position == batches[-1].position
        assert [r.member_no for r in resumed[0].records] == [
            r.member_no for r in batches[1].records
        ]
