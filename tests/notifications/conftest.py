"""Recipients with and without WeChat, subscriptions, notifications committed as a service's
would be, and real arq workers (burst, in process) on settings of the test's choosing."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import pytest
from arq.worker import Worker
from sqlalchemy import insert, update

from app.auth.models import Role, UserAccount
from app.core.config import Settings
from app.core.queue import send_pending_jobs
from app.notifications.models import NotificationSubscription
from app.notifications.outbox import notify
from workers.main import worker_options

TEMPLATE = "dev-tmpl-help-accepted"  # help_request.accepted's, in templates.json
EVENT = "help_request.accepted"


@pytest.fixture
def villager(make_user, db) -> Callable[..., Awaitable[UserAccount]]:
    """A villager account, with a WeChat openid unless `openid=None`, and `subscriptions`
    accepted for `template`."""

    async def make(
        openid: str | None = "auto", subscriptions: int = 0, template: str = TEMPLATE
    ) -> UserAccount:
        user = await make_user(Role.villager)
        if openid == "auto":
            openid = f"openid-{uuid.uuid4().hex[:12]}"
        await db.execute(
            update(UserAccount).where(UserAccount.id == user.id).values(wechat_openid=openid)
        )
        if subscriptions:
            await db.execute(
                insert(NotificationSubscription).values(
                    user_id=user.id, template_id=template, remaining=subscriptions
                )
            )
        await db.commit()
        user.wechat_openid = openid
        return user

    return make


@pytest.fixture
def notify_committed(app, db) -> Callable[..., Awaitable[None]]:
    """`notify` in a transaction of its own, committed, and its job sent, as a request's."""

    async def run(recipients: Sequence[uuid.UUID], **kwargs: Any) -> None:
        kwargs = {"event": EVENT, "title": "求助已受理", "body": "村协管员已受理", **kwargs}
        await notify(db, recipients=recipients, **kwargs)
        await db.commit()
        await send_pending_jobs(db, app.state.arq)

    return run


RunWorker = Callable[..., Awaitable[Worker]]


@pytest.fixture
def run_worker(settings: Settings) -> RunWorker:
    """A real arq worker in burst mode, on `settings` with `changes`: runs what is queued
    (deferred retries included) and stops."""

    async def run(**changes: Any) -> Worker:
        options = worker_options(settings.model_copy(update=changes), burst=True, poll_delay=0.02)
        worker = Worker(**options)
        try:
            await worker.main()
        finally:
            await worker.close()
        return worker

    return run
