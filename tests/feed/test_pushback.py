"""Push-back: coordinators' months go to the feed once, a lost answer is asked again under the
same key and applied once, a change never travels under two keys, and a refused update is kept
with its reason and sent again."""

from __future__ import annotations

import asyncio
from datetime import datetime
from decimal import Decimal

import pytest
from arq.worker import Worker
from sqlalchemy import text

from app.core.caller import Principal
from app.core.db import session_driver_connection
from app.core.periods import SHANGHAI
from app.core.queue import enqueue_after_commit, send_pending_jobs
from app.feed import pushback
from app.feed.simulator import Faults, FeedSimulatorServer
from app.households.writer import EmploymentWrite, write_employment
from tests.feed.simulated import PERIOD, TOKEN, Sleeps, asgi_http, make_client, make_simulator
from tests.households.factories import PersonSpec, make_household
from workers.main import worker_options

ACTOR = Principal.system("tests.feed").actor
OBSERVED = datetime(2026, 11, 20, 10, 30, tzinfo=SHANGHAI)


@pytest.fixture
def simulator():
    return make_simulator(200, faults=Faults(hang_seconds=5))


@pytest.fixture
def sessions(app):
    return lambda: app.state.db.sessionmaker.begin()


async def _feed_household(db, settings, simulator, number: int):
    """A household of ours that the feed knows: its numbers are the feed's."""
    household = simulator.feed.household(number)
    records = [simulator.feed.record(household.start + i) for i in range(household.size)]
    assert not any(r["deleted"] for r in records)
    _, members = await make_household(
        db,
        settings,
        records[0]["village_code"],
        [PersonSpec(r["name"], relation=r["relation"]) for r in records],
        household_no=household.household_no,
    )
    return members


async def _record(
    db, member, *, months=3, employer="三江县侗绣帮扶车间", source="visit", period=PERIOD
):
    connection = await session_driver_connection(db)
    row = EmploymentWrite(
        ACTOR, member.id, period, "务工", "县内", "就业帮扶车间", employer, months,
        Decimal(months * 2500), source, OBSERVED,
    )  # fmt: skip
    await write_employment(connection, [row])
    await db.commit()


async def _push(sessions, simulator, **client):
    async with asgi_http(simulator) as http:
        feed = make_client(http, Sleeps(), **{"timeout": 0.2, **client})
        return await pushback.push_updates(sessions, feed, batch_size=50)


async def _items(db):
    rows = await db.execute(
        text(
            "SELECT b.idempotency_key, b.status AS batch, i.status, i.reason, i.payload"
            " FROM feed_push_item i JOIN feed_push_batch b ON b.id = i.batch_id"
            " ORDER BY b.created_at, i.position"
        )
    )
    return rows.mappings().all()


async def test_what_coordinators_recorded_is_sent_once(db, settings, sessions, simulator):
    first, second, *_ = await _feed_household(db, settings, simulator, 0) + await _feed_household(
        db, settings, simulator, 1
    )
    await _record(db, first)
    await _record(db, second, source="manual", months=5)
    await _record(db, second, period="2026-10", source="feed")  # the feed's own: not sent back
    report = await _push(sessions, simulator)
    assert (report.outcome, report.batches, report.accepted, report.rejected) == ("done", 1, 2, 0)
    sent = simulator.ledger.applied[(first.member_no, PERIOD)]
    assert sent == {
        "member_no": first.member_no,
        "period": PERIOD,
        "employment": {
            "status": "务工", "region": "县内", "channel": "就业帮扶车间",
            "employer": "三江县侗绣帮扶车间", "months": 3, "income": 7500.0, "period": PERIOD,
        },
        "observed_at": "2026-11-20T10:30:00+08:00",
        "source": "visit",
    }  # fmt: skip
    assert len(simulator.ledger.applications) == 2

    requests = simulator.requests
    again = await _push(sessions, simulator)
    assert (again.batches, simulator.requests) == (0, requests)  # nothing new: nothing sent

    await _record(db, first, months=4)  # a change goes again, under another key
    later = await _push(sessions, simulator)
    assert (later.batches, later.accepted) == (1, 1)
    assert later.keys != report.keys
    assert simulator.ledger.applied[(first.member_no, PERIOD)]["employment"]["months"] == 4
    assert [a[1] for a in simulator.ledger.applications].count(first.member_no) == 2


async def test_a_lost_answer_is_asked_again_under_the_same_key(db, settings, sessions, simulator):
    member, *_ = await _feed_household(db, settings, simulator, 0)
    await _record(db, member)
    simulator.plan("drop")  # the feed applies the batch; its answer never arrives
    lost = await _push(sessions, simulator, max_attempts=1)
    assert lost.outcome == "unavailable" and lost.batches == 0
    [item] = await _items(db)
    assert item["batch"] == "pending" and item["status"] == "sent"
    batch = (await db.execute(text("SELECT attempts, error FROM feed_push_batch"))).one()
    assert batch.attempts == 1 and "no answer" in batch.error
    assert len(simulator.ledger.applications) == 1

    retried = await _push(sessions, simulator)
    assert (retried.resent, retried.batches, retried.accepted) == (1, 1, 1)
    assert retried.keys == [item["idempotency_key"]]
    assert simulator.ledger.applications == [(item["idempotency_key"], member.member_no, PERIOD)]
    [item] = await _items(db)
    assert (item["batch"], item["status"]) == ("answered", "accepted")


async def test_a_lost_answer_is_asked_again_within_the_push(db, settings, sessions, simulator):
    member, *_ = await _feed_household(db, settings, simulator, 0)
    await _record(db, member)
    simulator.plan("drop")
    report = await _push(sessions, simulator, max_attempts=2)
    assert (report.outcome, report.batches, report.accepted) == ("done", 1, 1)
    assert len(simulator.ledger.applications) == 1
    assert len(simulator.ledger.answers) == 1


async def test_a_change_made_while_a_batch_waits_goes_later_under_another_key(
    db, settings, sessions, simulator
):
    member, other, *_ = await _feed_household(db, settings, simulator, 1)
    await _record(db, member, months=2)
    simulator.plan("drop")
    assert (await _push(sessions, simulator, max_attempts=1)).outcome == "unavailable"

    await _record(db, member, months=6)  # changed while the batch waits for its answer
    await _record(db, other, months=1)
    # While it waits, the month is in no new batch; the other member's is.
    async with sessions() as session:
        waiting = await pushback.record_next_batch(session, 50)
        assert [u["member_no"] for u in waiting.updates] == [other.member_no]
        await session.rollback()

    report = await _push(sessions, simulator)
    assert (report.resent, report.batches, report.accepted) == (1, 2, 3)
    first_key, second_key = report.keys
    assert first_key != second_key
    items = await _items(db)
    by_key = {}
    for item in items:
        by_key.setdefault(item["idempotency_key"], []).append(
            (item["payload"]["member_no"], item["payload"]["employment"]["months"])
        )
    assert {key: sorted(sent) for key, sent in by_key.items()} == {
        first_key: [(member.member_no, 2)],
        second_key: sorted([(member.member_no, 6), (other.member_no, 1)]),
    }
    # Each key applied once; the feed ends with the later value.
    keys = [
        key for key, member_no, _ in simulator.ledger.applications if member_no == member.member_no
    ]
    assert keys == [first_key, second_key]
    assert simulator.ledger.applied[(member.member_no, PERIOD)]["employment"]["months"] == 6


async def test_two_pushes_at_once_never_share_a_change(db, settings, sessions, simulator):
    members = await _feed_household(db, settings, simulator, 0) + await _feed_household(
        db, settings, simulator, 1
    )
    for member in members:
        await _record(db, member)

    async def build():
        async with sessions() as session:
            return await pushback.record_next_batch(session, 50)

    one, two = await asyncio.gather(build(), build())
    built = [batch for batch in (one, two) if batch is not None]
    assert len(built) == 1 and len(built[0].updates) == len(members)


async def test_a_refused_update_is_kept_with_its_reason_and_sent_again(
    db, settings, sessions, simulator
):
    known, *_ = await _feed_household(db, settings, simulator, 0)
    _, [stranger] = await make_household(db, settings, "450226100201", [PersonSpec("陆明")])
    await _record(db, known)
    await _record(db, stranger)
    first = await _push(sessions, simulator)
    assert (first.accepted, first.rejected) == (1, 1)
    items = await _items(db)
    refused = [i for i in items if i["status"] == "rejected"]
    assert [(i["payload"]["member_no"], i["reason"]) for i in refused] == [
        (stranger.member_no, f"成员编号 {stranger.member_no} 不存在")
    ]

    second = await _push(sessions, simulator)
    third = await _push(sessions, simulator)
    # Only the refused one goes again, each time under a key of its own.
    assert (second.batches, second.accepted, second.rejected) == (1, 0, 1)
    assert (third.batches, third.rejected) == (1, 1)
    assert len({*first.keys, *second.keys, *third.keys}) == 3
    sent_again = [i for i in await _items(db) if i["idempotency_key"] in second.keys + third.keys]
    assert {i["payload"]["member_no"] for i in sent_again} == {stranger.member_no}
    assert [a[1] for a in simulator.ledger.applications] == [known.member_no]


async def test_a_refused_token_stops_the_push(db, settings, sessions, simulator):
    member, *_ = await _feed_household(db, settings, simulator, 0)
    await _record(db, member)
    simulator.plan("401")
    report = await _push(sessions, simulator)
    assert report.outcome == "refused" and report.batches == 0
    [item] = await _items(db)
    assert item["batch"] == "pending"
    assert (await _push(sessions, simulator)).accepted == 1  # the same batch, once allowed


async def test_the_feed_push_job_runs_on_a_real_worker(app, db, settings, simulator):
    """`feed.push` on an arq worker, against the simulator over loopback HTTP."""
    member, *_ = await _feed_household(db, settings, simulator, 0)
    await _record(db, member)
    server = FeedSimulatorServer(simulator)
    server.start()
    try:
        worker_settings = settings.model_copy(
            update={"feed_url": server.base_url, "feed_token": TOKEN, "feed_timeout_seconds": 5}
        )
        enqueue_after_commit(db, "feed.push", job_id="feed.push:test")
        await db.commit()
        await send_pending_jobs(db, app.state.arq)
        worker = Worker(**worker_options(worker_settings, burst=True, poll_delay=0.05))
        try:
            await worker.main()
        finally:
            await worker.close()
        assert worker.jobs_complete == 1 and worker.jobs_failed == 0
    finally:
        server.stop()
    assert simulator.ledger.applications[0][1] == member.member_no
    status = await db.scalar(text("SELECT status FROM feed_push_batch"))
    assert status == "answered"
