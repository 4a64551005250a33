"""The day before a session, everyone enrolled on its course hears of it: in the inbox and on
WeChat (`app.notifications`). Each session is reminded once: the sessions are claimed by
setting `reminded_at` in the transaction that writes the reminders, so a second run, or a run
on another worker at the same moment, finds none left."""

from __future__ import annotations

from datetime import datetime, time, timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.models import UserAccount
from app.core.periods import SHANGHAI
from app.notifications.outbox import notify
from app.trainings.models import Training, TrainingEnrollment, TrainingSession


async def remind_tomorrow(session: AsyncSession, now: datetime) -> int:
    """Reminds the enrolled of every session starting tomorrow (Shanghai) not yet reminded;
    answers how many sessions."""
    tomorrow = now.astimezone(SHANGHAI).date() + timedelta(days=1)
    start = datetime.combine(tomorrow, time.min, tzinfo=SHANGHAI)
    claimed = (
        await session.execute(
            update(TrainingSession)
            .where(
                TrainingSession.starts_at >= start,
                TrainingSession.starts_at < start + timedelta(days=1),
                TrainingSession.reminded_at.is_(None),
            )
            .values(reminded_at=now)
            .returning(TrainingSession.id, TrainingSession.training_id, TrainingSession.starts_at)
        )
    ).all()
    for _, training_id, starts_at in claimed:
        training = await session.get(Training, training_id)
        assert training is not None
        villagers = await session.scalars(
            select(UserAccount.id)
            .join(TrainingEnrollment, TrainingEnrollment.member_id == UserAccount.member_id)
            .where(
                TrainingEnrollment.training_id == training_id,
                TrainingEnrollment.status == "enrolled",
                UserAccount.is_active.is_(True),
            )
        )
        when = starts_at.astimezone(SHANGHAI).strftime("%m月%d日 %H:%M")
        await notify(
            session,
            recipients=list(villagers),
            event="training.reminder",
            title="明天有培训课",
            body=f"{training.title}：{when}，地点 {training.location}",
            link=f"/trainings/{training_id}",
            fields={"training": training.title, "time": when, "place": training.location},
        )
    return len(claimed)
