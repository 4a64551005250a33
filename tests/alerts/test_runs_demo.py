"""`wengang dev`'s demo shows alerts at first sight: one run of this month over the demo
county, queued once after seeding."""

from __future__ import annotations

from sqlalchemy import func, select

from app.alerts.models import Alert, AlertRun
from app.cli import seed_demo
from app.devserver import queue_first_alert_run
from app.notifications.models import Notification


async def test_the_demo_queues_one_run_and_its_coordinators_hear_of_their_alerts(
    app, db, settings, run_queued_jobs
):
    await seed_demo(settings, households=200)
    assert await queue_first_alert_run(settings) is True
    assert await queue_first_alert_run(settings) is False  # once
    worker = await run_queued_jobs(db)
    assert worker.jobs_failed == 0
    (run,) = (await db.scalars(select(AlertRun))).all()
    assert run.status == "succeeded" and run.opened > 0
    assert await db.scalar(select(func.count()).select_from(Alert)) == run.opened
    digests = await db.scalar(
        select(func.count()).select_from(Notification).where(Notification.event == "alert.digest")
    )
    assert digests == run.notified > 0
