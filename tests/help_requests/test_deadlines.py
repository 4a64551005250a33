"""Deadlines: the last quarter flagged, escalation to the township and then the county, each
step once however the job runs (twice, two sessions at once, a real arq worker, two real
workers at once); the 15-day
training rule; calendar time in Asia/Shanghai."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, insert, select, update

from app.audit.models import AuditEvent
from app.core.caller import Principal
from app.core.periods import SHANGHAI
from app.help_requests.deadlines import run_deadlines
from app.help_requests.models import HelpRequest, HelpRequestEscalation
from app.policy import help_requests as policy
from app.trainings.models import Training, TrainingEnrollment
from tests.help_requests.conftest import COUNTY, TOWNSHIP, VILLAGE, filing
from tests.households.factories import PersonSpec, make_household

API = "/api/v1/help-requests"
SYSTEM = Principal.system("help_requests.run_deadlines")


async def _file(client, headers, **overrides) -> uuid.UUID:
    response = await client.post(API, json=filing(**overrides), headers=headers)
    assert response.status_code == 201, response.text
    return uuid.UUID(response.json()["id"])


async def _set_marks(db, request_id, *, due_soon_at, due_at, county_at) -> None:
    await db.execute(
        update(HelpRequest)
        .where(HelpRequest.id == request_id)
        .values(due_soon_at=due_soon_at, due_at=due_at, county_at=county_at)
    )
    await db.commit()


async def _run(app, now=None) -> int:
    async with app.state.db.sessionmaker() as session:
        run = await run_deadlines(session, SYSTEM, now or datetime.now(UTC))
        await session.commit()
    return run.steps


async def _steps(db) -> list[tuple[str, str, str]]:
    rows = await db.execute(
        select(
            HelpRequestEscalation.deadline,
            HelpRequestEscalation.step,
            HelpRequestEscalation.region_code,
        ).order_by(HelpRequestEscalation.escalated_at, HelpRequestEscalation.step)
    )
    await db.rollback()
    return [tuple(row) for row in rows.all()]


async def test_each_step_is_taken_once_in_order(app, client, db, people, outbox):
    request_id = await _file(client, people.villager)
    created = await db.scalar(select(HelpRequest.created_at).where(HelpRequest.id == request_id))
    await db.rollback()
    # Nothing before the last quarter.
    assert await _run(app, created + timedelta(hours=17)) == 0
    # 18 of 24 hours gone: flagged for the coordinator, once.
    assert await _run(app, created + timedelta(hours=18, minutes=1)) == 1
    assert await _run(app, created + timedelta(hours=18, minutes=6)) == 0
    assert outbox.events("help_request.due_soon") == [[people.coordinator_id]]
    # Past due: the township's managers; a further full day: the county's.
    assert await _run(app, created + timedelta(hours=24, minutes=1)) == 1
    assert await _run(app, created + timedelta(hours=30)) == 0
    assert await _run(app, created + timedelta(hours=48, minutes=1)) == 1
    assert await _run(app, created + timedelta(hours=60)) == 0
    assert await _steps(db) == [
        ("response", "due_soon", VILLAGE),
        ("response", "township", TOWNSHIP),
        ("response", "county", COUNTY),
    ]
    assert outbox.events("help_request.escalated") == [
        [people.township_manager_id],
        [people.county_manager_id],
    ]
    escalations = await db.scalar(
        select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "escalate")
    )
    assert escalations == 3
    # Accepting it meets the deadline: nothing more happens, however late.
    await client.post(f"{API}/{request_id}/accept", headers=people.coordinator)
    assert await _run(app, created + timedelta(days=30)) == 0


async def test_a_request_found_late_is_escalated_not_flagged(app, client, db, people, outbox):
    request_id = await _file(client, people.villager)
    now = datetime.now(UTC)
    await _set_marks(
        db,
        request_id,
        due_soon_at=now - timedelta(hours=8),
        due_at=now - timedelta(hours=2),
        county_at=now + timedelta(hours=22),
    )
    assert await _run(app) == 1
    assert await _steps(db) == [("response", "township", TOWNSHIP)]
    assert outbox.events("help_request.due_soon") == []


async def test_two_runs_at_once_take_each_step_once(app, client, db, people, outbox):
    ids = [await _file(client, people.villager) for _ in range(5)]
    now = datetime.now(UTC)
    for request_id in ids:
        await _set_marks(
            db,
            request_id,
            due_soon_at=now - timedelta(hours=60),
            due_at=now - timedelta(hours=54),
            county_at=now - timedelta(hours=30),
        )
    taken = await asyncio.gather(_run(app, now), _run(app, now))
    assert sorted(taken) == [0, 10]
    assert len(await _steps(db)) == 10
    assert len(outbox.events("help_request.escalated")) == 10


async def test_two_jobs_on_a_real_worker_take_each_step_once(
    app, client, db, people, outbox, run_queued_jobs
):
    request_id = await _file(client, people.villager)
    now = datetime.now(UTC)
    await _set_marks(
        db,
        request_id,
        due_soon_at=now - timedelta(hours=7),
        due_at=now - timedelta(hours=1),
        county_at=now + timedelta(hours=23),
    )
    worker = await run_queued_jobs(db, "help_requests.run_deadlines", "help_requests.run_deadlines")
    assert worker.jobs_complete == 2 and worker.jobs_failed == 0
    assert await _steps(db) == [("response", "township", TOWNSHIP)]
    assert outbox.events("help_request.escalated") == [[people.township_manager_id]]


async def test_two_real_workers_at_once_take_each_step_once(
    app, client, db, people, outbox, settings
):
    """Two arq workers, each with its own pool, take a queued run each at the same moment."""
    from arq.worker import Worker

    from workers.main import worker_options

    request_id = await _file(client, people.villager)
    now = datetime.now(UTC)
    await _set_marks(
        db,
        request_id,
        due_soon_at=now - timedelta(hours=7),
        due_at=now - timedelta(hours=1),
        county_at=now + timedelta(hours=23),
    )
    for _ in range(2):
        await app.state.arq.enqueue_job("help_requests.run_deadlines")
    workers = [
        Worker(**worker_options(settings, burst=True, poll_delay=0.01, cron_jobs=[], max_jobs=1))
        for _ in range(2)
    ]
    try:
        await asyncio.gather(*(worker.main() for worker in workers))
    finally:
        for worker in workers:
            await worker.close()
    assert sum(worker.jobs_complete for worker in workers) == 2
    assert sum(worker.jobs_failed for worker in workers) == 0
    assert await _steps(db) == [("response", "township", TOWNSHIP)]
    assert outbox.events("help_request.escalated") == [[people.township_manager_id]]


async def _course(db) -> uuid.UUID:
    now = datetime.now(UTC)
    training = await db.scalar(
        insert(Training)
        .values(
            title="电工技能培训", type="职业技能", region_code=VILLAGE, organizer="县人社局",
            location="村委会", capacity=5, starts_at=now + timedelta(days=3),
            ends_at=now + timedelta(days=4),
        )
        .returning(Training.id)
    )  # fmt: skip
    await db.commit()
    return training


async def _enrol(db, training, member_id, *, at, status="enrolled") -> None:
    await db.execute(
        insert(TrainingEnrollment).values(
            training_id=training, member_id=member_id, status=status, created_at=at
        )
    )
    await db.commit()


async def test_a_training_request_is_due_enrolled_within_15_days(app, client, db, settings, people):
    request_id = await _file(client, people.villager, category="技能培训")
    accepted = (await client.post(f"{API}/{request_id}/accept", headers=people.coordinator)).json()
    deadline = accepted["deadline"]
    assert deadline["kind"] == "training"
    accepted_at = datetime.fromisoformat(accepted["accepted_at"])
    assert datetime.fromisoformat(deadline["due_at"]) - accepted_at == timedelta(days=15)
    # An enrolment from before the acceptance, or a place on the waiting list, does not count.
    old_course, new_course = await _course(db), await _course(db)
    await _enrol(db, old_course, people.member_id, at=accepted_at - timedelta(days=1))
    _, (other,) = await make_household(db, settings, VILLAGE, [PersonSpec("韦梅")])
    await _enrol(db, new_course, other.id, at=accepted_at + timedelta(days=1))
    assert await _run(app, accepted_at + timedelta(days=2)) == 0
    detail = (await client.get(f"{API}/{request_id}", headers=people.villager)).json()
    assert detail["deadline"]["kind"] == "training"
    # 15 days gone unenrolled: escalated to the township.
    assert await _run(app, accepted_at + timedelta(days=15, minutes=1)) == 1
    await _enrol(db, new_course, people.member_id, at=accepted_at + timedelta(days=16))
    assert await _run(app, accepted_at + timedelta(days=40)) == 0
    detail = (await client.get(f"{API}/{request_id}", headers=people.villager)).json()
    assert detail["deadline"] is None
    assert detail["training_enrolled_at"] is not None
    assert await _steps(db) == [("training", "township", TOWNSHIP)]


async def test_an_enrolment_in_time_meets_the_rule(app, client, db, people):
    request_id = await _file(client, people.villager, category="技能培训")
    accepted = (await client.post(f"{API}/{request_id}/accept", headers=people.coordinator)).json()
    accepted_at = datetime.fromisoformat(accepted["accepted_at"])
    waitlisted, course = await _course(db), await _course(db)
    await _enrol(
        db, waitlisted, people.member_id, at=accepted_at + timedelta(days=1), status="waitlisted"
    )
    await _enrol(db, course, people.member_id, at=accepted_at + timedelta(days=3))
    assert await _run(app, accepted_at + timedelta(days=20)) == 0
    stored = await db.scalar(select(HelpRequest).where(HelpRequest.id == request_id))
    assert stored is not None and stored.deadline is None
    assert stored.training_enrolled_at == accepted_at + timedelta(days=3)
    assert await _steps(db) == []


def test_deadlines_count_calendar_time_in_shanghai():
    # Accepted on a Friday evening before the Spring Festival: weekends and holidays count.
    start = datetime(2026, 1, 30, 20, 0, tzinfo=SHANGHAI)
    marks = policy.marks(start, policy.training_length())
    assert marks.due_at == datetime(2026, 2, 14, 20, 0, tzinfo=SHANGHAI)
    assert marks.due_at.tzinfo == SHANGHAI
    # Late at night in Shanghai is the afternoon before in UTC: the days are Shanghai's.
    late = datetime(2026, 3, 1, 15, 30, tzinfo=UTC)  # 23:30 on 1 March in Shanghai
    due = policy.marks(late, policy.training_length()).due_at
    assert (due.date(), due.hour, due.minute) == (datetime(2026, 3, 16).date(), 23, 30)
    # The first response: 24 hours by default, the last quarter from hour 18.
    response = policy.marks(start, policy.first_response_length(None))
    assert response.due_soon_at == datetime(2026, 1, 31, 14, 0, tzinfo=SHANGHAI)
    assert response.due_at == datetime(2026, 1, 31, 20, 0, tzinfo=SHANGHAI)
    assert response.county_at == datetime(2026, 2, 1, 20, 0, tzinfo=SHANGHAI)
