"""The outbox is written in its event's transaction; the inbox is its recipient's alone."""

from __future__ import annotations

import uuid

from sqlalchemy import func, select

from app.core.queue import send_pending_jobs
from app.notifications.models import Notification
from app.notifications.outbox import notify
from tests.notifications.conftest import EVENT

INBOX = "/api/v1/me/notifications"


async def _count(db) -> int:
    return int(await db.scalar(select(func.count()).select_from(Notification)))


async def _queued(app) -> int:
    return len(await app.state.arq.queued_jobs())


async def test_the_outbox_rolls_back_with_its_transaction(app, db, villager):
    user = await villager()
    await notify(db, recipients=[user.id], event=EVENT, title="已受理", body="正文")
    assert await _count(db) == 1  # visible inside the transaction
    await db.rollback()
    assert await _count(db) == 0
    # Nothing was sent for the rolled-back transaction: jobs go out only after a commit.
    assert await _queued(app) == 0


async def test_one_statement_for_many_recipients_and_the_job_after_commit(app, db, villager):
    users = [await villager() for _ in range(3)]
    recipients = [u.id for u in users] + [users[0].id]  # a repeat counts once
    await notify(
        db, recipients=recipients, event=EVENT, title="标题", body="正文",
        link="pages/help/detail?id=1", fields={"replier": "韦协管"},
    )  # fmt: skip
    assert await _queued(app) == 0  # not before the commit
    await db.commit()
    await send_pending_jobs(db, app.state.arq)
    rows = (await db.scalars(select(Notification))).all()
    assert sorted(r.recipient_id for r in rows) == sorted(u.id for u in users)
    assert {r.wechat_state for r in rows} == {"pending"}
    assert rows[0].fields == {"replier": "韦协管"}
    assert len({r.id for r in rows}) == 3
    jobs = await app.state.arq.queued_jobs()
    assert [job.function for job in jobs] == ["notifications.deliver"]


async def test_no_recipients_writes_and_asks_nothing(app, db):
    await notify(db, recipients=[], event=EVENT, title="t", body="b")
    await db.commit()
    await send_pending_jobs(db, app.state.arq)
    assert await _count(db) == 0
    assert await _queued(app) == 0


async def test_inbox_newest_first_with_unread_count_and_pages(
    client, auth, villager, notify_committed
):
    me, other = await villager(), await villager()
    for n in range(3):
        await notify_committed([me.id], title=f"第{n}条")
    await notify_committed([other.id], title="别人的")
    first = await client.get(INBOX, params={"limit": 2}, headers=auth(me))
    assert first.status_code == 200, first.text
    page = first.json()
    assert [i["title"] for i in page["items"]] == ["第2条", "第1条"]
    assert page["unread_count"] == 3
    assert page["items"][0]["read_at"] is None
    assert page["items"][0]["wechat_state"] == "pending"
    rest = await client.get(
        INBOX, params={"limit": 2, "cursor": page["next_cursor"]}, headers=auth(me)
    )
    assert [i["title"] for i in rest.json()["items"]] == ["第0条"]
    assert rest.json()["next_cursor"] is None


async def test_mark_read_and_all_read(client, auth, villager, notify_committed):
    me = await villager()
    await notify_committed([me.id], title="一")
    await notify_committed([me.id], title="二")
    items = (await client.get(INBOX, headers=auth(me))).json()["items"]
    read = await client.post(f"{INBOX}/{items[0]['id']}/read", headers=auth(me))
    assert read.status_code == 200, read.text
    first_read_at = read.json()["read_at"]
    assert first_read_at is not None
    again = await client.post(f"{INBOX}/{items[0]['id']}/read", headers=auth(me))
    assert again.json()["read_at"] == first_read_at  # the first reading is kept
    page = (await client.get(INBOX, headers=auth(me))).json()
    assert page["unread_count"] == 1
    unread = (await client.get(INBOX, params={"unread": "true"}, headers=auth(me))).json()
    assert [i["title"] for i in unread["items"]] == ["一"]
    everything = await client.post(f"{INBOX}/read", headers=auth(me))
    assert everything.json() == {"unread_count": 0}
    assert (await client.get(INBOX, headers=auth(me))).json()["unread_count"] == 0


async def test_another_persons_notification_is_not_found(
    client, auth, db, villager, make_user, notify_committed
):
    owner, stranger = await villager(), await villager()
    await notify_committed([owner.id])
    notification_id = await db.scalar(select(Notification.id))
    for someone in (stranger, await make_user("admin")):
        response = await client.post(f"{INBOX}/{notification_id}/read", headers=auth(someone))
        assert response.status_code == 404, response.text
        assert response.json()["code"] == "notification_not_found"
        listed = (await client.get(INBOX, headers=auth(someone))).json()
        assert listed == {"items": [], "next_cursor": None, "unread_count": 0}
    missing = await client.post(f"{INBOX}/{uuid.uuid4()}/read", headers=auth(owner))
    assert missing.status_code == 404
    assert await db.scalar(select(Notification.read_at)) is None


async def test_reported_subscriptions_count_each_accept(client, auth, villager):
    me = await villager()
    url = "/api/v1/me/notification-subscriptions"
    body = {
        "results": [
            {"template_id": "dev-tmpl-help-accepted", "result": "accept"},
            {"template_id": "dev-tmpl-help-replied", "result": "reject"},
            {"template_id": "someone-elses-template", "result": "accept"},
        ]
    }
    for _ in range(2):
        response = await client.post(url, json=body, headers=auth(me))
        assert response.status_code == 200, response.text
    items = {i["template_id"]: i for i in response.json()["items"]}
    assert items["dev-tmpl-help-accepted"]["remaining"] == 2
    assert items["dev-tmpl-help-accepted"]["events"] == ["help_request.accepted"]
    assert items["dev-tmpl-help-replied"]["remaining"] == 0
    assert "someone-elses-template" not in items
    listed = (await client.get(url, headers=auth(me))).json()
    assert listed["items"] == response.json()["items"]
    assert listed["next_cursor"] is None
