"""Pulls of the HTTP feed end to end: asked for through the API, run by real arq workers against
the simulator on loopback. Every page is applied once with its cursor, whatever the feed or
the worker does: 429s and 5xx are waited out, a refused token stops the run where it stood,
a worker killed mid-page is carried on by the next run, and the nightly pull runs once."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from app.auth.models import Role
from app.core.config import PROJECT_ROOT
from app.core.db import Database
from app.core.periods import SHANGHAI
from app.feed import tasks
from app.feed.simulator import Faults, FeedSimulator
from app.feed.synthetic import Position, SyntheticFeed
from tests.feed.pulling import (
    PAGE_SIZE,
    cursor,
    drain,
    listed_run,
    member_id,
    members_in_registry,
    point_at,
    pull,
    request_run,
    scalar,
    serving,
    work_until,
)
from tests.feed.simulated import TOKEN, make_simulator

POPULATION = 300
BAD_EVERY = 40  # seven malformed records, of each kind; two of them share a number
REFUSED = 9
PAGES = POPULATION // PAGE_SIZE
COUNTS = ("rows_read", "new", "changed", "unchanged", "deleted", "rejected")


def _bad(feed: SyntheticFeed, index: int) -> bool:
    return bool(feed.bad_every) and index % feed.bad_every == feed.bad_every - 1


def _refused(feed: SyntheticFeed, index: int) -> bool:
    """A malformed record; or the one before a record given its ID number, when both come in
    one page: neither holds the number yet, so neither is taken."""
    following = index + 1
    return _bad(feed, index) or (
        _bad(feed, following)
        and feed.record(following)["id_number"] == feed.record(index)["id_number"]
        and following // PAGE_SIZE == index // PAGE_SIZE
    )


def _accepted(feed: SyntheticFeed, upto: int = POPULATION) -> list[dict[str, Any]]:
    """The records of the first `upto` the registry takes: not refused, not deleted."""
    records = [(i, feed.record(i)) for i in range(upto)]
    return [r for i, r in records if not _refused(feed, i) and not r["deleted"]]


def _counts(run: dict[str, Any]) -> dict[str, int]:
    return {name: run[name] for name in COUNTS}


def _simulator(**faults: Any) -> FeedSimulator:
    simulator = make_simulator(POPULATION, bad_every=BAD_EVERY, faults=Faults(**faults))
    feed = simulator.feed
    # What the counts below rest on: a malformed record of each kind, and no member the feed
    # deletes before we ever held them (that would read as unchanged).
    assert sum(_refused(feed, i) for i in range(POPULATION)) == REFUSED
    assert not [i for i in range(POPULATION) if not _refused(feed, i) and feed.record(i)["deleted"]]
    return simulator


@pytest.fixture
async def admin(make_user, auth) -> dict[str, str]:
    return auth(await make_user(Role.admin))


# A pull, then nothing new, then a night's changes --------------------------------------------


async def test_a_pull_end_to_end(client, db, settings, admin, monkeypatch):
    simulator = _simulator()
    feed = simulator.feed
    accepted = _accepted(feed)
    refused = {feed.record(i)["member_no"] for i in range(POPULATION) if _refused(feed, i)}
    with serving(simulator) as server:
        point_at(monkeypatch, settings, server)

        first = await pull(client, admin, settings)
        assert first["status"] == "succeeded", first["error"]
        assert first["trigger"] == "manual" and first["error"] is None
        assert first["pages"] == PAGES and first["finished_at"] is not None
        assert _counts(first) == {
            "rows_read": POPULATION, "new": len(accepted), "changed": 0, "unchanged": 0,
            "deleted": 0, "rejected": len(refused),
        }  # fmt: skip
        # Each refused record filed with its page and reason.
        errors = (
            await db.execute(
                text(
                    "SELECT member_no, page, line, reason FROM feed_row_error"
                    " WHERE sync_run_id = :run"
                ),
                {"run": first["id"]},
            )
        ).all()
        # By page and place in it; by member number too, for the records that have one.
        assert {(e.page, e.line) for e in errors} == {
            (i // PAGE_SIZE + 1, i % PAGE_SIZE + 1) for i in range(POPULATION) if _refused(feed, i)
        }
        assert {e.member_no for e in errors} - {None} <= refused
        assert all(1 <= e.page <= PAGES and 1 <= e.line <= PAGE_SIZE and e.reason for e in errors)
        assert any("校验位" in e.reason for e in errors)
        assert any("另一成员相同" in e.reason for e in errors)
        # The registry holds what was taken: households, members, months.
        assert await members_in_registry(db) == len(accepted)
        assert await scalar(db, "SELECT count(*) FROM household") == len(
            {r["household_no"] for r in accepted}
        )
        assert await scalar(db, "SELECT count(*) FROM member_employment") == sum(
            1 for r in accepted if r["employment"] is not None
        )
        assert await cursor(db) == feed.end().encode()

        # Nothing new: one empty page, nothing written, the cursor where it was.
        again = await pull(client, admin, settings)
        assert again["status"] == "succeeded"
        assert _counts(again) == dict.fromkeys(COUNTS, 0)
        assert await cursor(db) == feed.end().encode()

        # Two nights later: the members listed again, one of them gone.
        simulator.advance(2)
        changes = [simulator.feed.record_at(s, o) for s in (1, 2) for o in range(15)]
        last = {r["member_no"]: r for r in changes}  # a member listed twice: as last said
        gone = [no for no, r in last.items() if r["deleted"]]
        before = {r["member_no"]: r for r in accepted}
        # Each month stated again is newer (its `updated_at`): written, most with new values.
        restated = [no for no, r in last.items() if not r["deleted"] and r["employment"]]
        moved = [no for no in restated if last[no]["employment"] != before[no]["employment"]]
        assert len(gone) == 1 and moved
        night = await pull(client, admin, settings)
        assert night["status"] == "succeeded", night["error"]
        assert night["rows_read"] == len(changes)
        assert (night["new"], night["deleted"], night["rejected"]) == (0, 1, 0)
        assert night["changed"] == len(restated)
        assert night["unchanged"] == len(last) - len(restated) - 1
        month_changes = await scalar(
            db,
            "SELECT count(*) FROM audit_event WHERE entity = 'member_employment'"
            " AND request_id = :run AND changes <> '{}'::jsonb",
            run=f"feed.sync:{night['id']}",
        )
        assert month_changes == len(moved)
        assert await cursor(db) == simulator.feed.end().encode()

    # The member who left is kept, hidden: deleted_at set, in no list, not found.
    [left] = gone
    left_id = await member_id(db, left)
    assert await scalar(db, "SELECT deleted_at FROM member WHERE id = :id", id=left_id)
    assert await members_in_registry(db) == len(accepted) - 1
    household = await scalar(db, "SELECT household_id FROM member WHERE id = :id", id=left_id)
    detail = await client.get(f"/api/v1/households/{household}", headers=admin)
    assert detail.status_code == 200, detail.text
    assert left not in {m["member_no"] for m in detail.json()["members"]}
    assert (await client.get(f"/api/v1/members/{left_id}", headers=admin)).status_code == 404


# The feed failing --------------------------------------------------------------------------


async def test_429_and_5xx_are_waited_out_and_every_page_applied_once(
    client, db, settings, admin, monkeypatch
):
    simulator = _simulator(rate_limit_every=4, retry_after="0.2", error_rate=0.15)
    simulator.plan("503", "429", "500")
    accepted = _accepted(simulator.feed)
    with serving(simulator) as server:
        point_at(monkeypatch, settings, server, feed_max_attempts=8)
        started = time.monotonic()
        run = await pull(client, admin, settings)
        elapsed = time.monotonic() - started
    assert run["status"] == "succeeded", run["error"]
    assert run["pages"] == PAGES
    assert _counts(run) == {
        "rows_read": POPULATION, "new": len(accepted), "changed": 0, "unchanged": 0,
        "deleted": 0, "rejected": REFUSED,
    }  # fmt: skip
    # Asked again after each refusal: the three planned, one in four rate limited, some 503s.
    assert simulator.requests >= PAGES + 3 + 2
    assert elapsed >= 3 * 0.2  # Retry-After waited out, at least for the 429s
    assert await members_in_registry(db) == len(accepted)
    assert await cursor(db) == simulator.feed.end().encode()


async def test_a_refused_token_stops_the_run_and_the_renewed_one_carries_on(
    client, db, settings, admin, monkeypatch
):
    simulator = _simulator(token_expires_after=3)  # three pages, then 401
    feed = simulator.feed
    with serving(simulator) as server:
        point_at(monkeypatch, settings, server)
        refused = await pull(client, admin, settings)
        assert refused["status"] == "refused"
        assert "FEED_TOKEN" in refused["error"] and "401" in refused["error"]
        assert refused["pages"] == 3 and refused["finished_at"] is not None
        assert refused["new"] == len(_accepted(feed, 3 * PAGE_SIZE))
        # The cursor stands after the last page applied, not past it.
        assert await cursor(db) == Position(0, 3 * PAGE_SIZE).encode()
        assert await members_in_registry(db) == refused["new"]

        # The admin renews the token: the next run carries on from there.
        simulator.token = "renewed-feed-token"
        simulator.faults.token_expires_after = 0
        monkeypatch.setattr(settings, "feed_token", "renewed-feed-token")
        renewed = await pull(client, admin, settings)
    assert renewed["status"] == "succeeded", renewed["error"]
    assert renewed["pages"] == PAGES - 3
    assert renewed["rows_read"] == POPULATION - 3 * PAGE_SIZE
    assert renewed["unchanged"] == 0
    assert refused["new"] + renewed["new"] == len(_accepted(feed))
    assert await members_in_registry(db) == len(_accepted(feed))
    assert await cursor(db) == feed.end().encode()
    # The refused run stays as it was.
    assert (await listed_run(client, admin, refused["id"]))["status"] == "refused"


# A worker killed mid-page ------------------------------------------------------------------


async def _wait_for(db, what: str, check, seconds: float, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + seconds
    while not await check():
        assert process.poll() is None, f"the worker exited ({process.returncode}) before {what}"
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.05)


async def _advisory_locks(db) -> int:
    return int(
        await scalar(
            db,
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'"
            " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
        )
    )


def _worker_process(settings, server_url: str, directory: Path) -> subprocess.Popen[bytes]:
    """`wengang worker` (the plain arq worker of `WorkerSettings`) in a process of its own, on
    the test database and Redis. Run from an empty directory: no `.env` of a developer's."""
    now = datetime.now(SHANGHAI)
    env = {
        **os.environ,
        "APP_ENV": "test",
        "DATABASE_URL": settings.database_url,
        "REDIS_URL": settings.redis_url,
        "FEED_URL": server_url,
        "FEED_TOKEN": TOKEN,
        "FEED_PAGE_SIZE": str(PAGE_SIZE),
        "FEED_TIMEOUT_SECONDS": "5",
        # Not this hour: the worker's cron must not pull on its own.
        "FEED_SYNC_HOUR": str((now.hour + 12) % 24),
        "LOG_LEVEL": "WARNING",
        "PYTHONPATH": str(PROJECT_ROOT),
    }
    log = (directory / "worker.log").open("wb")
    return subprocess.Popen(
        [str(Path(sys.executable).parent / "wengang"), "worker"],
        cwd=directory,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


async def test_a_worker_killed_mid_page_is_carried_on_without_a_page_skipped_or_repeated(
    app, client, db, settings, admin, monkeypatch, tmp_path
):
    simulator = _simulator(page_delay=0.5)  # each page takes half a second to come
    feed = simulator.feed
    accepted = _accepted(feed)
    with serving(simulator) as server:
        point_at(monkeypatch, settings, server)
        killed = await request_run(client, admin)
        process = _worker_process(settings, server.base_url, tmp_path)
        try:

            async def two_pages() -> bool:
                pages = await scalar(
                    db, "SELECT pages FROM feed_sync_run WHERE id = :id", id=killed
                )
                return pages >= 2

            await _wait_for(db, "two pages applied", two_pages, 60, process)
            process.send_signal(signal.SIGKILL)
            process.wait(timeout=10)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait(timeout=10)
        assert process.returncode == -signal.SIGKILL, (tmp_path / "worker.log").read_text()

        left = await listed_run(client, admin, killed)
        assert left["status"] == "running" and 2 <= left["pages"] < PAGES
        applied = await members_in_registry(db)
        assert applied == left["new"] > 0
        # The database notices the dead worker's connections and lets go of its lock.
        deadline = time.monotonic() + 15
        while await _advisory_locks(db):
            assert time.monotonic() < deadline, "the dead worker's lock was never released"
            await asyncio.sleep(0.05)

        # The next run: its job beside the dead worker's, which arq holds "in progress" for
        # the job timeout. The run closes the dead one and carries on from the cursor.
        carried = await request_run(client, admin)

        async def finished() -> bool:
            status = await scalar(db, "SELECT status FROM feed_sync_run WHERE id = :id", id=carried)
            return status not in ("queued", "running")

        worker = await work_until(settings, finished)
        assert (worker.jobs_complete, worker.jobs_failed) == (1, 0)

        runs = [await listed_run(client, admin, run) for run in (killed, carried)]
        first, second = runs
        assert first["status"] == "failed" and "中断" in first["error"]
        assert second["status"] == "succeeded", second["error"]
        assert first["pages"] + second["pages"] == PAGES  # the killed page uncounted, then read
        assert sum(run["rows_read"] for run in runs) == POPULATION
        assert sum(run["new"] for run in runs) == len(accepted)
        assert sum(run["unchanged"] for run in runs) == 0  # no page applied twice
        assert sum(run["rejected"] for run in runs) == REFUSED
        assert await members_in_registry(db) == len(accepted)
        assert await cursor(db) == feed.end().encode()
        # No refused record filed twice either: each error by the record's place in the feed.
        filed = (
            await db.execute(
                text(
                    "SELECT r.cursor_from, e.page, e.line, e.column_name, e.reason"
                    " FROM feed_row_error AS e JOIN feed_sync_run AS r ON r.id = e.sync_run_id"
                )
            )
        ).all()
        places = [
            (
                (Position.decode(f.cursor_from).offset if f.cursor_from else 0)
                + (f.page - 1) * PAGE_SIZE
                + f.line
                - 1,
                f.column_name,
                f.reason,
            )
            for f in filed
        ]
        assert len(places) == len(set(places))
        assert {place[0] for place in places} == {i for i in range(POPULATION) if _refused(feed, i)}

        # Once arq's hold on the dead worker's job lapses (its in-progress key expires), the
        # job is run again: the run it was for stays closed, and nothing is read again.
        requests = simulator.requests
        for key in await app.state.arq.keys("arq:in-progress:*"):
            await app.state.arq.delete(key)
        again = await drain(settings)
        assert again.jobs_failed == 0
        assert await listed_run(client, admin, killed) == first
        assert simulator.requests == requests
        assert await members_in_registry(db) == len(accepted)


# The nightly pull ---------------------------------------------------------------------------


async def test_the_nightly_pull_runs_once_however_many_workers_fire(app, db, settings, monkeypatch):
    simulator = _simulator()
    now = datetime.now(SHANGHAI)
    if now.minute == 59 and now.second >= 50:  # not across the hour
        await asyncio.sleep(11)
        now = datetime.now(SHANGHAI)
    with serving(simulator) as server:
        point_at(monkeypatch, settings, server, feed_sync_hour=now.hour)
        # Two workers, each with its own database pool and HTTP client, fire at once.
        contexts = [
            {
                "settings": settings,
                "db": Database(settings),
                "http": httpx.AsyncClient(),
                "redis": app.state.arq,
            }
            for _ in range(2)
        ]
        try:
            results = await asyncio.gather(*(tasks.nightly_sync(ctx) for ctx in contexts))
            assert sorted(results, key=str) == [None, "succeeded"]
            requests = simulator.requests
            assert requests == PAGES  # one pull
            # Fired again the same night (a cron fired twice, a worker restarted): nothing.
            assert await tasks.nightly_sync(contexts[0]) is None
            assert simulator.requests == requests
        finally:
            for ctx in contexts:
                await ctx["http"].aclose()
                await ctx["db"].dispose()
    rows = (await db.execute(text("SELECT trigger, night, status, pages FROM feed_sync_run"))).all()
    assert [tuple(row) for row in rows] == [("cron", now.date(), "succeeded", PAGES)]
    assert await members_in_registry(db) == len(_accepted(simulator.feed))


async def test_the_nightly_pull_keeps_to_its_hour(app, settings, monkeypatch, db):
    other_hour = (datetime.now(SHANGHAI).hour + 12) % 24
    monkeypatch.setattr(settings, "feed_sync_hour", other_hour)
    ctx = {"settings": settings, "db": app.state.db, "redis": app.state.arq}
    assert await tasks.nightly_sync(ctx) is None
    assert await scalar(db, "SELECT count(*) FROM feed_sync_run") == 0
