"""A real `wengang worker` process killed (SIGKILL) while it sends to a slow WeChat: after a
restart no message reaches WeChat twice, counted at the fake WeChat server."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter

from arq.constants import in_progress_key_prefix
from sqlalchemy import select

from app.auth.models import UserAccount
from app.core.config import PROJECT_ROOT
from app.notifications.models import Notification
from tests.waiting import drop_queued_cron_jobs


def _worker_env(settings) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("PYTEST")}
    env.update(
        APP_ENV="test",
        DATABASE_URL=settings.database_url,
        REDIS_URL=settings.redis_url,
        WECHAT_API_BASE=settings.wechat_api_base,
        NOTIFICATION_BATCH_SIZE="6",
        NOTIFICATION_CONCURRENCY="3",
        LOG_LEVEL="WARNING",
    )
    return env


async def test_no_message_is_sent_twice_after_a_worker_is_killed_mid_batch(
    app, db, settings, villager, notify_committed, run_worker, wechat_server
):
    users = [await villager(subscriptions=1) for _ in range(30)]
    wechat_server.state.send_delay = 0.3
    await notify_committed([u.id for u in users])

    worker = subprocess.Popen(  # noqa: ASYNC220 - started once, waited on below
        [sys.executable, "-m", "app.cli", "worker"],
        env=_worker_env(settings),
        cwd=PROJECT_ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        # The second batch is under way: its calls have reached WeChat, no answer recorded.
        while len(wechat_server.state.messages) < 7:
            assert worker.poll() is None, "the worker ended by itself"
            assert time.monotonic() < deadline, "the worker sent too little"
            time.sleep(0.01)  # noqa: ASYNC251 - the fake answers from its own thread
        worker.send_signal(signal.SIGKILL)
        worker.wait(timeout=10)
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait()
    reached_before = len(wechat_server.state.messages)
    db.expire_all()
    states = Counter((await db.scalars(select(Notification.wechat_state))).all())
    assert states["sending"] > 0, states  # attempts recorded before their calls, left hanging
    assert states["pending"] > 0, states

    # arq hands a killed job to another worker once its timeout has passed; this test does
    # not wait for it: the job's in-progress mark goes, and the restarted worker runs it again,
    # then the minute's sweep (asked for now, with no stale time).
    for key in await app.state.redis.keys(in_progress_key_prefix + "*"):
        await app.state.redis.delete(key)
    await drop_queued_cron_jobs(settings)
    await app.state.arq.enqueue_job("notifications.sweep")
    wechat_server.state.send_delay = 0
    restarted = await run_worker(notification_sending_stale_seconds=0)
    assert restarted.jobs_failed == 0

    received = Counter(m["touser"] for m in wechat_server.state.messages)
    assert max(received.values()) == 1, "a message reached WeChat twice"
    assert len(received) > reached_before  # the rest went out after the restart
    db.expire_all()
    rows = (
        await db.execute(
            select(UserAccount.wechat_openid, Notification.wechat_state).join(
                UserAccount, UserAccount.id == Notification.recipient_id
            )
        )
    ).all()
    by_state: dict[str, set[str]] = {}
    for openid, state in rows:
        by_state.setdefault(state, set()).add(openid)
    assert set(by_state) == {"sent", "unknown"}, by_state
    # Sent means WeChat has it; unknown may or may not have reached it, and is never resent.
    assert by_state["sent"] <= set(received)
    assert set(received) <= by_state["sent"] | by_state["unknown"]
