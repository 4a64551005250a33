"""Runs: asked for through the API and computed by a real worker, their progress and counts,
reruns without duplicates, refused months, the digest, and the schedule on two workers."""

from __future__ import annotations

import asyncio
from contextlib import suppress
from datetime import UTC, datetime

import pytest
from arq import cron
from arq.cron import CronJob
from arq.worker import Worker
from sqlalchemy import func, select, text

from app.alerts import runs, tasks
from app.alerts.models import AlertRun
from app.audit.models import AuditEvent
from app.core.periods import current_period, shift_period
from app.notifications.models import Notification
from tests.alerts.conftest import (
    COUNTY,
    OTHER_VILLAGE,
    VILLAGE,
    all_alerts,
    compute,
    labourers,
    months,
)
from workers.main import worker_options

# Only the months each test arranges raise alerts.
pytestmark = pytest.mark.usefixtures("only_employment_lost")

NOW = current_period()
BEFORE = shift_period(NOW, -1)


async def _lost(db, settings, village: str, count: int, period: str = NOW) -> list:
    """`count` labourers of `village` who worked the month before `period` and not in it."""
    members = await labourers(db, settings, village, count)
    for member in members:
        await months(db, member, {shift_period(period, -1): True, period: False})
    return members


async def _request(client, headers, **body) -> dict:
    answer = await client.post("/api/v1/alert-runs", json=body, headers=headers)
    assert answer.status_code == 202, answer.text
    return answer.json()


async def test_a_run_asked_for_is_computed_by_a_worker(
    app, client, db, settings, staff, run_queued_jobs
):
    lost = await _lost(db, settings, VILLAGE, 2)
    await _lost(db, settings, OTHER_VILLAGE, 1)
    still = await labourers(db, settings, VILLAGE, 1)
    await months(db, still[0], {BEFORE: True, NOW: True})

    accepted = await _request(client, staff.county, period=NOW)
    assert accepted["status"] == "queued"
    worker = await run_queued_jobs(db)
    assert worker.jobs_failed == 0
    run = (await client.get(f"/api/v1/alert-runs/{accepted['id']}", headers=staff.county)).json()
    assert run["status"] == "succeeded", run
    assert (run["region_code"], run["period"], run["trigger"]) == (COUNTY, NOW, "manual")
    assert run["rules_done"] == run["rules_total"] > 0
    assert (run["opened"], run["continued"], run["ended"]) == (3, 0, 0)
    assert run["started_at"] and run["finished_at"]
    alerts = await all_alerts(db)
    assert {a.member_id for a in alerts if a.region_code == VILLAGE} == set(lost)
    assert all(a.evidence[NOW]["last_month"] == BEFORE for a in alerts)
    audited = await db.scalar(
        select(func.count()).select_from(AuditEvent).where(AuditEvent.entity == "alert_run")
    )
    assert audited == 1

    listed = (await client.get("/api/v1/alert-runs", headers=staff.county)).json()
    assert [r["id"] for r in listed["items"]] == [accepted["id"]]
    # A township manager sees the county's runs over their township too.
    township = await client.get(f"/api/v1/alert-runs/{accepted['id']}", headers=staff.township)
    assert township.status_code == 200


async def test_a_rerun_changes_nothing_and_tells_no_one_again(app, db, settings, staff):
    await _lost(db, settings, VILLAGE, 2)
    first = await compute(app, NOW)
    alerts = [(a.id, a.version, a.updated_at) for a in await all_alerts(db)]
    told = await db.scalar(select(func.count()).select_from(Notification))
    assert (first.opened, first.notified, told) == (2, 1, 1)  # the village's coordinator
    second = await compute(app, NOW)
    assert (second.status, second.opened, second.continued, second.ended) == (
        "succeeded", 0, 2, 0,
    )  # fmt: skip
    assert [(a.id, a.version, a.updated_at) for a in await all_alerts(db)] == alerts
    assert await db.scalar(select(func.count()).select_from(Notification)) == told


async def test_two_runs_of_the_same_month_at_once_take_turns(app, db, settings, staff):
    await _lost(db, settings, VILLAGE, 2)
    async with app.state.db.sessionmaker.begin() as session:
        both = [
            AlertRun(period=NOW, region_code=region, trigger="manual", status="queued")
            for region in (COUNTY, VILLAGE)
        ]
        session.add_all(both)
    results = await asyncio.gather(
        *(runs.execute(app.state.db, app.state.arq, run.id) for run in both)
    )
    assert results == ["succeeded", "succeeded"]
    db.expire_all()
    done = [await db.get(AlertRun, run.id) for run in both]
    assert sorted((r.opened, r.continued) for r in done if r) == [(0, 2), (2, 0)]
    assert len(await all_alerts(db)) == 2
    assert await db.scalar(select(func.count()).select_from(Notification)) == 1


async def test_the_digest_is_one_message_per_person_with_counts_per_rule(app, db, settings, staff):
    await _lost(db, settings, VILLAGE, 3)
    await _lost(db, settings, OTHER_VILLAGE, 1)
    run = await compute(app, NOW)
    assert run.notified == 2
    rows = (
        await db.execute(
            select(Notification.recipient_id, Notification.event, Notification.title,
                   Notification.body)
        )
    ).all()  # fmt: skip
    by_person = {row.recipient_id: row for row in rows}
    assert set(by_person) == {staff.coordinator_id, staff.other_coordinator_id}
    mine = by_person[staff.coordinator_id]
    assert mine.event == "alert.digest"
    assert mine.title == f"{NOW} 新增预警 3 条"
    assert mine.body == "就业转失业 3 条"
    assert by_person[staff.other_coordinator_id].title == f"{NOW} 新增预警 1 条"


async def test_an_earlier_month_is_refused_and_the_latest_may_be_recomputed(
    app, client, db, settings, staff
):
    await _lost(db, settings, VILLAGE, 1)
    await compute(app, NOW)
    refused = await client.post("/api/v1/alert-runs", json={"period": BEFORE}, headers=staff.county)
    assert refused.status_code == 409
    assert refused.json()["code"] == "period_superseded"
    # The county's latest month holds for its townships too.
    refused = await client.post(
        "/api/v1/alert-runs", json={"period": BEFORE}, headers=staff.township
    )
    assert refused.json()["code"] == "period_superseded"
    await _request(client, staff.county, period=NOW)
    future = await client.post(
        "/api/v1/alert-runs", json={"period": shift_period(NOW, 1)}, headers=staff.county
    )
    assert (future.status_code, future.json()["code"]) == (422, "future_period")
    # A run queued before a later month was computed fails when it comes to run.
    async with app.state.db.sessionmaker.begin() as session:
        stale = AlertRun(period=BEFORE, region_code=COUNTY, trigger="manual", status="queued")
        session.add(stale)
    assert await runs.execute(app.state.db, app.state.arq, stale.id) == "failed"
    db.expire_all()
    stale = await db.get(AlertRun, stale.id)
    assert stale is not None and stale.error_code == "period_superseded"


async def test_who_may_ask_for_a_run_and_over_what(client, staff):
    for headers in (staff.coordinator, staff.villager):
        answer = await client.post("/api/v1/alert-runs", json={"period": NOW}, headers=headers)
        assert answer.status_code == 403
    admin = await client.post("/api/v1/alert-runs", json={"period": NOW}, headers=staff.admin)
    assert (admin.status_code, admin.json()["code"]) == (422, "region_required")
    await _request(client, staff.admin, period=NOW, region=COUNTY)
    township = await _request(client, staff.township, period=NOW)
    await _request(client, staff.township, period=NOW, region=VILLAGE)
    outside = await client.post(
        "/api/v1/alert-runs", json={"period": NOW, "region": OTHER_VILLAGE},
        headers=staff.township,
    )  # fmt: skip
    assert (outside.status_code, outside.json()["code"]) == (404, "region_not_found")
    hidden = await client.get(f"/api/v1/alert-runs/{township['id']}", headers=staff.other_township)
    assert hidden.status_code == 404
    # Another township's manager sees the county's run (over their township too), not this.
    listed = (await client.get("/api/v1/alert-runs", headers=staff.other_township)).json()
    assert [r["region_code"] for r in listed["items"]] == [COUNTY]
    for headers in (staff.coordinator, staff.villager):
        answer = await client.get(f"/api/v1/alert-runs/{township['id']}", headers=headers)
        assert answer.status_code == 403
        assert (await client.get("/api/v1/alert-runs", headers=headers)).status_code == 403


async def test_progress_is_visible_while_the_run_computes(app, db, settings, monkeypatch):
    await _lost(db, settings, VILLAGE, 1)
    seen: list[tuple[str, int]] = []
    evaluate = runs.engine.evaluate

    async def watched(session, *, on_rule, **kwargs):
        async def on_rule_watched(rule, hits):
            await on_rule(rule, hits)
            async with app.state.db.sessionmaker() as other:
                row = (
                    await other.execute(
                        select(AlertRun.status, AlertRun.rules_done).where(AlertRun.period == NOW)
                    )
                ).one()
                seen.append((row.status, row.rules_done))

        return await evaluate(session, on_rule=on_rule_watched, **kwargs)

    monkeypatch.setattr(runs.engine, "evaluate", watched)
    run = await compute(app, NOW)
    assert run.status == "succeeded"
    assert seen and seen[0] == ("running", 1)


async def test_the_schedule_runs_each_county_once_with_two_workers(app, db, settings):
    await _lost(db, settings, VILLAGE, 2)
    # The county's run day is the 1st: it has come whatever today is.
    await db.execute(
        text("INSERT INTO alert_schedule (county_code, run_day) VALUES (:county, 1)"),
        {"county": COUNTY},
    )
    await db.commit()
    # Two real workers, each firing the schedule as it starts (arq's own `unique` off: the
    # claim alone must keep it to one run).
    claims: list[int] = []

    async def schedule(ctx) -> int:
        claims.append(await tasks.schedule(ctx))
        return claims[-1]

    def at_start() -> CronJob:  # one each: arq keeps a cron's next time on its object
        return cron(schedule, name="alerts.schedule.test", run_at_startup=True,
                    unique=False, month={1}, day={1}, hour={0}, minute={0})  # fmt: skip

    workers = [
        Worker(**worker_options(settings, poll_delay=0.05, cron_jobs=[at_start()]))
        for _ in range(2)
    ]
    running = [asyncio.create_task(worker.main()) for worker in workers]

    async def finished() -> bool:
        statuses = (await db.scalars(select(AlertRun.status))).all()
        return bool(statuses) and all(s == "succeeded" for s in statuses)

    try:
        for _ in range(400):
            db.expire_all()
            if len(claims) == 2 and await finished():
                break
            await asyncio.sleep(0.05)
        else:
            raise AssertionError("the scheduled run never finished")
    finally:
        for task in running:
            task.cancel()
            with suppress(asyncio.CancelledError):
                await task
        for worker in workers:
            await worker.close()
    assert sorted(claims) == [0, 1]  # both fired; one claimed the county
    rows = (await db.execute(select(AlertRun.region_code, AlertRun.period, AlertRun.trigger))).all()
    assert [tuple(r) for r in rows] == [(COUNTY, NOW, "scheduled")]
    assert len(await all_alerts(db)) == 2
    # Fired again the same month: nothing claimed.
    async with app.state.db.sessionmaker.begin() as session:
        assert await runs.claim_scheduled(session, datetime.now(UTC)) == []
