"""The day before a session, the enrolled are reminded once: however often the job runs, and
on two workers at once."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import insert, select, update

from app.auth.models import Role, UserAccount
from app.core.periods import SHANGHAI
from app.trainings import reminders
from app.trainings.models import Training, TrainingEnrollment, TrainingSession
from tests.households.factories import PersonSpec, make_household

VILLAGE = "450226100201"
NOW = datetime(2026, 11, 30, 10, 0, tzinfo=SHANGHAI)


async def _course(db, starts_at: datetime) -> uuid.UUID:
    training = await db.scalar(
        insert(Training)
        .values(
            title="电工培训", type="职业技能", region_code=VILLAGE, organizer="县人社局",
            location="古宜镇培训中心", capacity=10, starts_at=starts_at,
            ends_at=starts_at + timedelta(hours=4),
        )
        .returning(Training.id)
    )  # fmt: skip
    await db.execute(
        insert(TrainingSession).values(
            training_id=training, starts_at=starts_at, ends_at=starts_at + timedelta(hours=4)
        )
    )
    return training


async def test_the_enrolled_are_reminded_the_day_before_once(
    app, db, settings, make_user, monkeypatch
):
    _, (member, waiting) = await make_household(
        db, settings, VILLAGE, [PersonSpec("韦强"), PersonSpec("韦梅", relation="之女")]
    )
    villager = await make_user(Role.villager)
    other = await make_user(Role.villager)
    await db.execute(
        update(UserAccount).where(UserAccount.id == villager.id).values(member_id=member.id)
    )
    await db.execute(
        update(UserAccount).where(UserAccount.id == other.id).values(member_id=waiting.id)
    )
    tomorrow = await _course(db, datetime(2026, 12, 1, 9, 0, tzinfo=SHANGHAI))
    later = await _course(db, datetime(2026, 12, 2, 9, 0, tzinfo=SHANGHAI))
    for training in (tomorrow, later):
        await db.execute(
            insert(TrainingEnrollment).values(
                training_id=training, member_id=member.id, status="enrolled", created_at=NOW
            )
        )
    await db.execute(
        insert(TrainingEnrollment).values(
            training_id=tomorrow, member_id=waiting.id, status="waitlisted", created_at=NOW
        )
    )
    await db.commit()

    sent: list[dict] = []

    async def recorded(session, **notice):
        sent.append(notice)

    monkeypatch.setattr(reminders, "notify", recorded)

    async def run() -> int:
        async with app.state.db.sessionmaker() as session, session.begin():
            return await reminders.remind_tomorrow(session, NOW.astimezone(UTC))

    assert sorted(await asyncio.gather(run(), run())) == [0, 1]
    assert await run() == 0
    [notice] = sent
    assert notice["recipients"] == [villager.id]
    assert notice["event"] == "training.reminder" and "12月01日 09:00" in notice["body"]
    reminded = await db.scalars(
        select(TrainingSession.training_id).where(TrainingSession.reminded_at.is_not(None))
    )
    assert list(reminded) == [tomorrow]
