"""A real `wengang worker` killed (SIGKILL) in the middle of a run: nothing of the run is
left written, the next run of the month takes over, and the alerts end up exactly those of
runs that were never interrupted."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from contextlib import suppress
from pathlib import Path

import pytest
from arq.worker import Worker
from sqlalchemy import text

from app.alerts.models import AlertRun
from app.core.config import PROJECT_ROOT
from app.core.periods import current_period, shift_period
from tests.alerts.conftest import VILLAGE, all_alerts, compute, labourers, months
from tests.waiting import drop_queued_cron_jobs
from workers.main import worker_options

# Only the months each test arranges raise alerts.
pytestmark = pytest.mark.usefixtures("only_employment_lost")

NOW = current_period()
BEFORE = shift_period(NOW, -1)
EARLIER = shift_period(NOW, -2)


def _worker(settings, directory: Path) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "APP_ENV": "test",
        "DATABASE_URL": settings.database_url,
        "REDIS_URL": settings.redis_url,
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


async def _scalar(db, sql: str, **params):
    db.expire_all()
    value = (await db.execute(text(sql), params)).scalar()
    await db.commit()
    return value


async def _work_until(settings, done, seconds: float = 60.0) -> Worker:
    """A real worker (not in burst mode: arq holds the dead worker's job "in progress") until
    `done()`."""
    await drop_queued_cron_jobs(settings)
    worker = Worker(**worker_options(settings, poll_delay=0.05, cron_jobs=[]))
    running = asyncio.create_task(worker.main())
    try:
        deadline = time.monotonic() + seconds
        while not await done():
            assert not running.done(), "the worker stopped"
            assert time.monotonic() < deadline, "timed out waiting for the worker"
            await asyncio.sleep(0.05)
    finally:
        running.cancel()
        with suppress(asyncio.CancelledError):
            await running
        await worker.close()
    return worker


def _alert_set(alerts) -> set[tuple]:
    return {
        (a.rule, a.subject, a.status, a.opened_period, a.last_period, a.ended_period, a.months,
         str(sorted(a.evidence.items())))
        for a in alerts
    }  # fmt: skip


async def test_a_run_killed_midway_leaves_nothing_and_its_rerun_matches_an_unbroken_one(
    app, client, db, settings, staff, tmp_path
):
    # Out of work since last month (its alert ends now), out of work this month (opens now).
    ended_now, opened_now = await labourers(db, settings, VILLAGE, 2)
    await months(db, ended_now, {EARLIER: True, BEFORE: False, NOW: False})
    await months(db, opened_now, {EARLIER: True, BEFORE: True, NOW: False})
    await compute(app, BEFORE)
    before = _alert_set(await all_alerts(db))
    assert len(before) == 1

    killed = (
        await client.post("/api/v1/alert-runs", json={"period": NOW}, headers=staff.county)
    ).json()["id"]
    # The run's first write to `alert` waits behind this lock: the worker is then killed with
    # the rules evaluated and its transaction open.
    blocker = await app.state.db.engine.connect()
    await blocker.execute(text("LOCK TABLE alert IN SHARE MODE"))
    process = _worker(settings, tmp_path)
    try:
        deadline = time.monotonic() + 60
        while not (
            await _scalar(db, "SELECT rules_done FROM alert_run WHERE id = :id", id=killed)
            and await _scalar(
                db,
                "SELECT count(*) FROM pg_locks WHERE NOT granted"
                " AND relation = CAST('alert' AS regclass)",
            )
        ):
            assert process.poll() is None, (tmp_path / "worker.log").read_text()
            assert time.monotonic() < deadline, "the run never reached its merge"
            await asyncio.sleep(0.05)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)
        await blocker.rollback()
        await blocker.close()
    assert process.returncode == -signal.SIGKILL

    # The database lets go of the dead worker's transaction and its locks.
    deadline = time.monotonic() + 15
    advisory = (
        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'"
        " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
    )
    while await _scalar(db, advisory):
        assert time.monotonic() < deadline, "the dead worker's locks were never released"
        await asyncio.sleep(0.05)
    left = await db.get(AlertRun, killed)
    assert left is not None and left.status == "running" and left.rules_done >= 1
    assert _alert_set(await all_alerts(db)) == before  # nothing of the run was written

    # The month asked for again: the new run takes over and closes the dead one.
    rerun = (
        await client.post("/api/v1/alert-runs", json={"period": NOW}, headers=staff.county)
    ).json()["id"]

    async def finished() -> bool:
        status = await _scalar(db, "SELECT status FROM alert_run WHERE id = :id", id=rerun)
        return status in ("succeeded", "failed")

    worker = await _work_until(settings, finished)
    assert worker.jobs_failed == 0
    db.expire_all()
    dead, done = await db.get(AlertRun, killed), await db.get(AlertRun, rerun)
    assert dead is not None and (dead.status, dead.error_code) == ("failed", "interrupted")
    assert done is not None and (done.status, done.opened, done.ended) == ("succeeded", 1, 1)
    recovered = _alert_set(await all_alerts(db))

    # arq hands the dead worker's job out again once its hold lapses: the run stays closed.
    for key in await app.state.arq.keys("arq:in-progress:*"):
        await app.state.arq.delete(key)

    async def drained() -> bool:
        return not await app.state.arq.keys("arq:job:*") and not await app.state.arq.zcard(
            "arq:queue"
        )

    await _work_until(settings, drained)
    db.expire_all()
    assert (await db.get(AlertRun, killed)).status == "failed"  # type: ignore[union-attr]
    assert _alert_set(await all_alerts(db)) == recovered

    # The same months, computed without interruption from nothing.
    await db.execute(text("DELETE FROM alert"))
    await db.execute(text("DELETE FROM alert_county_period"))
    await db.commit()
    await compute(app, BEFORE)
    await compute(app, NOW)
    assert _alert_set(await all_alerts(db)) == recovered
    assert {(a.subject, a.status) for a in await all_alerts(db)} == {
        (str(ended_now), "auto_resolved"),
        (str(opened_now), "open"),
    }
