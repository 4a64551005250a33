"""Delivery over WeChat by a real arq worker against the fake WeChat server on loopback."""

from __future__ import annotations

from sqlalchemy import select

from app.notifications.models import Notification, NotificationSubscription
from tests.notifications.conftest import TEMPLATE


async def _rows(db) -> list[Notification]:
    db.expire_all()
    return list((await db.scalars(select(Notification).order_by(Notification.title))).all())


async def _remaining(db, user) -> int | None:
    db.expire_all()
    return await db.scalar(
        select(NotificationSubscription.remaining).where(
            NotificationSubscription.user_id == user.id,
            NotificationSubscription.template_id == TEMPLATE,
        )
    )


async def test_a_subscribed_user_gets_one_message(
    db, villager, notify_committed, run_worker, wechat_server
):
    user = await villager(subscriptions=2)
    await notify_committed(
        [user.id], title="求助已受理", body="协管员韦强已受理", link="pages/help/detail?id=7"
    )
    worker = await run_worker()
    assert worker.jobs_failed == 0
    [message] = wechat_server.state.messages
    assert message["touser"] == user.wechat_openid
    assert message["template_id"] == TEMPLATE
    assert message["page"] == "pages/help/detail?id=7"
    assert message["data"]["thing1"] == {"value": "求助已受理"}
    assert message["data"]["phrase3"] == {"value": "已受理"}
    [row] = await _rows(db)
    assert (row.wechat_state, row.wechat_attempts, row.wechat_error) == ("sent", 1, None)
    assert row.wechat_sent_at is not None
    assert await _remaining(db, user) == 1  # one acceptance spent
    assert wechat_server.state.calls["stable_token"] == 1


async def test_without_openid_template_or_subscription_the_inbox_only(
    db, villager, notify_committed, run_worker, wechat_server
):
    no_wechat = await villager(openid=None, subscriptions=5)
    unsubscribed = await villager()
    subscribed_once = await villager(subscriptions=1)
    await notify_committed([no_wechat.id], title="a")
    await notify_committed([unsubscribed.id], title="b")
    await notify_committed([subscribed_once.id], title="c")
    await notify_committed([subscribed_once.id], title="d")  # one acceptance, two messages
    await notify_committed([subscribed_once.id], title="e", event="event.without.template")
    await run_worker()
    states = {r.title: (r.wechat_state, r.wechat_error) for r in await _rows(db)}
    assert states == {
        "a": ("inbox_only", "no_openid"),
        "b": ("inbox_only", "no_quota"),
        "c": ("sent", None),
        "d": ("inbox_only", "no_quota"),
        "e": ("inbox_only", "no_template"),
    }
    assert [m["data"]["thing1"]["value"] for m in wechat_server.state.messages] == ["c"]
    assert await _remaining(db, subscribed_once) == 0


async def test_43101_leaves_it_in_the_inbox_and_spends_the_count(
    db, villager, notify_committed, run_worker, wechat_server
):
    """We counted acceptances WeChat no longer has (the user turned messages off): 43101."""
    user = await villager(subscriptions=3)
    wechat_server.state.send_quota[user.wechat_openid] = 0
    await notify_committed([user.id])
    await run_worker()
    [row] = await _rows(db)
    assert (row.wechat_state, row.wechat_error) == ("inbox_only", "errcode 43101")
    assert wechat_server.state.messages == []
    assert await _remaining(db, user) == 0  # no second try against an empty quota


async def test_5xx_then_success_is_one_delivery(
    db, villager, notify_committed, run_worker, wechat_server
):
    user = await villager(subscriptions=1)
    wechat_server.state.send_failures = 2  # 502, 502, then fine
    wechat_server.state.send_busy = 1  # and a -1 system busy
    await notify_committed([user.id])
    worker = await run_worker(notification_backoff_seconds=0.05)
    assert worker.jobs_failed == 0
    rows = await _rows(db)
    assert wechat_server.state.calls["subscribe_send"] == 4, [
        (r.wechat_state, r.wechat_error, r.wechat_attempts, r.wechat_due_at) for r in rows
    ]
    assert len(wechat_server.state.messages) == 1
    [row] = await _rows(db)
    assert (row.wechat_state, row.wechat_attempts) == ("sent", 4)
    # Each failed attempt gave its acceptance back; the delivery spent one.
    assert await _remaining(db, user) == 0


async def test_transient_failures_outlasting_the_attempts_fail(
    db, villager, notify_committed, run_worker, wechat_server
):
    user = await villager(subscriptions=1)
    wechat_server.state.send_failures = 10
    await notify_committed([user.id])
    await run_worker(notification_backoff_seconds=0.01, notification_max_attempts=3)
    [row] = await _rows(db)
    assert (row.wechat_state, row.wechat_attempts, row.wechat_error) == ("failed", 3, "http 502")
    assert wechat_server.state.calls["subscribe_send"] == 3
    assert await _remaining(db, user) == 1  # never delivered: the acceptance is still there


async def test_a_lost_answer_is_unknown_and_never_resent(
    db, villager, notify_committed, run_worker, wechat_server
):
    """A read timeout: WeChat may have delivered it. It is not sent again, by any job."""
    user = await villager(subscriptions=5)
    wechat_server.state.send_delay = 0.5
    await notify_committed([user.id])
    await run_worker(wechat_timeout_seconds=0.1)
    [row] = await _rows(db)
    assert row.wechat_state == "unknown"
    assert row.wechat_error.startswith("no answer")
    await notify_committed([user.id], title="下一条")  # another delivery job runs
    await run_worker(wechat_timeout_seconds=2, notification_sending_stale_seconds=0)
    assert [m["data"]["thing1"]["value"] for m in wechat_server.state.messages] == [
        "求助已受理",
        "下一条",
    ]


async def test_a_refused_token_is_refreshed_and_the_message_sent(
    app, db, villager, notify_committed, run_worker, wechat_server
):
    from app.auth.wechat import ACCESS_TOKEN_KEY

    user = await villager(subscriptions=1)
    await app.state.redis.set(ACCESS_TOKEN_KEY, "revoked-token", ex=600)
    await notify_committed([user.id])
    await run_worker()
    assert len(wechat_server.state.messages) == 1
    assert wechat_server.state.calls["stable_token"] == 1
    assert (await _rows(db))[0].wechat_state == "sent"


async def test_many_recipients_in_batches_each_once(
    db, villager, notify_committed, run_worker, wechat_server
):
    users = [await villager(subscriptions=1) for _ in range(25)]
    await notify_committed([u.id for u in users])
    await run_worker(notification_batch_size=7, notification_concurrency=3)
    assert sorted(m["touser"] for m in wechat_server.state.messages) == sorted(
        u.wechat_openid for u in users
    )
    assert {r.wechat_state for r in await _rows(db)} == {"sent"}


async def test_a_long_backlog_is_drained_by_a_chain_of_short_jobs(
    db, villager, notify_committed, run_worker, wechat_server, monkeypatch
):
    """A job sends for a bounded time (here: one batch) and hands the rest to the next job,
    so no job outlives the worker's job timeout with a batch claimed."""
    from app.notifications import tasks

    monkeypatch.setattr(tasks, "JOB_SECONDS", 0.0)
    users = [await villager(subscriptions=1) for _ in range(10)]
    await notify_committed([u.id for u in users])
    worker = await run_worker(notification_batch_size=4)
    assert worker.jobs_failed == 0 and worker.jobs_complete >= 3
    assert len(wechat_server.state.messages) == 10
    assert {r.wechat_state for r in await _rows(db)} == {"sent"}


async def test_without_an_access_token_nothing_is_claimed_and_it_is_sent_later(
    app, db, villager, notify_committed, run_worker, wechat_server
):
    """WeChat refuses the token (its daily quota): the job neither fails nor claims a row, so
    nothing is left `sending` to turn `unknown`; once a token comes, the message goes once."""
    from app.auth.wechat import ACCESS_TOKEN_KEY

    user = await villager(subscriptions=2)
    await app.state.redis.delete(ACCESS_TOKEN_KEY)
    wechat_server.state.stable_token_refusals = 100
    await notify_committed([user.id])
    worker = await run_worker()
    assert worker.jobs_failed == 0
    [row] = await _rows(db)
    assert (row.wechat_state, row.wechat_attempts) == ("pending", 0)
    assert await _remaining(db, user) == 2
    assert wechat_server.state.calls.get("subscribe_send", 0) == 0

    wechat_server.state.stable_token_refusals = 0
    await notify_committed([user.id], title="第二条")
    await run_worker()
    assert sorted(r.wechat_state for r in await _rows(db)) == ["sent", "sent"]
    assert len(wechat_server.state.messages) == 2
