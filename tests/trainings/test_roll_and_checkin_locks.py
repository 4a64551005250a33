"""The roll and QR check-ins at once, as real concurrent transactions on PostgreSQL.

Writers of a session's attendance lock its `training_session` row before its attendance rows:
the roll FOR UPDATE, a check-in FOR KEY SHARE (`attendance._before`). So a check-in arriving
during the roll waits for it at the session row and then writes over an absent mark (a check-in
never writes over a present row); the roll arriving during a check-in waits for it and then
overwrites what it wrote; in both cases the audit's old values are the ones really replaced.
Check-ins of different members never wait for each other; two of one member end as one row
and one `already_checked_in`.

One side is held open as a transaction of the test's own: the service function run in a
session not yet committed, or the lock alone taken on a connection. The other side is a request,
and the test waits until PostgreSQL reports it waiting on a lock of the held transaction
(`pg_stat_activity`, `pg_blocking_pids`), never for a fixed time.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator, Callable, Coroutine
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.models import AuditEvent
from app.auth import callers
from app.auth.models import Role, UserAccount
from app.core.caller import AccountSnapshot, Principal
from app.households.models import Member
from app.trainings import attendance, checkin
from app.trainings.models import TrainingAttendance
from app.trainings.schemas import AttendanceIn
from tests.households.factories import PersonSpec, make_household
from tests.trainings.test_trainings import START, VILLAGE_A, _code, _create, _enroll
from tests.waiting import lock_waits

WAIT_SECONDS = 3  # for a request to reach a lock, or to finish without one


@pytest.fixture
def clock(monkeypatch):
    monkeypatch.setattr(checkin, "now", lambda: START + timedelta(minutes=10))


@dataclass
class Course:
    training_id: str
    session_id: uuid.UUID
    coordinator: UserAccount
    members: list[Member]  # all three enrolled
    villagers: list[UserAccount]  # villagers[i] is members[i]


@pytest.fixture
async def course(client, db, settings, make_user, auth, clock) -> Course:
    coordinator = await make_user(Role.coordinator, [VILLAGE_A])
    _, members = await make_household(
        db,
        settings,
        VILLAGE_A,
        [
            PersonSpec("韦强"),
            PersonSpec("韦梅", relation="之女"),
            PersonSpec("韦军", relation="之子"),
        ],
    )
    training = await _create(client, auth(coordinator), capacity=3)
    villagers = []
    for member in members:
        enrolled = await _enroll(client, auth(coordinator), training, member)
        assert enrolled.json()["status"] == "enrolled", enrolled.text
        villager = await make_user(Role.villager)
        await db.execute(
            update(UserAccount).where(UserAccount.id == villager.id).values(member_id=member.id)
        )
        villagers.append(villager)
    await db.commit()
    return Course(
        training["id"], uuid.UUID(training["sessions"][0]["id"]), coordinator, members, villagers
    )


Start = Callable[[Coroutine[Any, Any, Any]], "asyncio.Task[Any]"]


@pytest.fixture
async def start() -> AsyncIterator[Start]:
    """Runs a request in the background; a test that fails while it waits lets it finish (its
    lock released) before the next test empties the tables."""
    tasks: list[asyncio.Task[Any]] = []

    def run(request: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        tasks.append(asyncio.ensure_future(request))
        return tasks[-1]

    yield run
    for task in tasks:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(task, 5)


@dataclass
class Held:
    session: AsyncSession
    pid: int


@contextlib.asynccontextmanager
async def _transaction(app) -> AsyncIterator[Held]:
    """A transaction of the test's own; rolled back on the way out unless committed, so a
    failing test never leaves a lock behind."""
    async with app.state.db.sessionmaker() as session:
        pid = (await session.execute(text("SELECT pg_backend_pid()"))).scalar_one()
        try:
            yield Held(session, pid)
        finally:
            await session.rollback()


async def _caller(app, user: UserAccount) -> Principal:
    """The principal a request of `user` gets (the account read as requests do)."""
    accounts: callers.AccountReader = app.state.accounts
    record = await accounts.read(user.id)
    return Principal(
        user=AccountSnapshot(*record[: len(callers.PRINCIPAL_COLUMNS)]),
        region_codes=tuple(record["region_codes"] or ()),
    )


async def _roll_in(app, held: Held, course: Course, members: list[Member], present: bool):
    principal = await _caller(app, course.coordinator)
    body = AttendanceIn(
        session_id=course.session_id, member_ids=[m.id for m in members], present=present
    )
    return await attendance.record_attendance(
        held.session, principal, uuid.UUID(course.training_id), body
    )


async def _check_in_in(app, held: Held, villager: UserAccount, code: str):
    principal = await _caller(app, villager)
    return await attendance.check_in(
        held.session, app.state.redis, principal, app.state.settings.jwt_secret, code
    )


def _roll(client, auth, course: Course, members: list[Member], present: bool):
    return client.post(
        f"/api/v1/trainings/{course.training_id}/attendance",
        json={
            "session_id": str(course.session_id),
            "member_ids": [str(m.id) for m in members],
            "present": present,
        },
        headers=auth(course.coordinator),
    )


def _check_in(client, auth, villager: UserAccount, code: str):
    return client.post("/api/v1/me/checkins", json={"code": code}, headers=auth(villager))


async def _new_code(client, auth, course: Course) -> str:
    issued = await _code(
        client, auth(course.coordinator), {"id": course.training_id}, str(course.session_id)
    )
    assert issued.status_code == 200, issued.text
    return issued.json()["code"]


def _outcome(response) -> tuple[int, str | None]:
    return response.status_code, response.json().get("code") if response.is_error else None


async def _waiting_for(db, holder: int, task: asyncio.Task[Any]) -> str:
    """Once the request `task` waits on a lock `holder` holds: the statement that waits."""
    deadline = time.monotonic() + WAIT_SECONDS
    while True:
        for _, query, blockers in await lock_waits(db):
            if holder in blockers:
                return query
        assert not task.done(), f"answered without waiting: {_outcome(task.result())}"
        assert time.monotonic() < deadline, "the request never waited for the held transaction"
        await asyncio.sleep(0.005)


async def _without_waiting(db, *tasks: asyncio.Task[Any]) -> list[Any]:
    """The requests' answers, once all of them have finished without any backend of the
    database waiting on a lock meanwhile (a request that waited for the held transaction
    would keep waiting, and be seen)."""
    deadline = time.monotonic() + WAIT_SECONDS
    while not all(task.done() for task in tasks):
        assert not (waits := await lock_waits(db)), f"waiting on a lock: {waits}"
        assert time.monotonic() < deadline, "the requests did not finish"
        await asyncio.sleep(0.005)
    return [task.result() for task in tasks]


async def _rows(db, course: Course) -> dict[uuid.UUID, tuple[bool, str]]:
    """The session's attendance as committed: member → (present, source)."""
    rows = await db.execute(
        select(
            TrainingAttendance.member_id, TrainingAttendance.present, TrainingAttendance.source
        ).where(TrainingAttendance.session_id == course.session_id)
    )
    return {member_id: (present, source) for member_id, present, source in rows}


async def _events(db, member: Member) -> list[tuple[str, str, dict[str, Any]]]:
    """The member's attendance audit, oldest first: (actor role, action, changes)."""
    rows = await db.execute(
        select(AuditEvent.actor_role, AuditEvent.action, AuditEvent.changes)
        .where(AuditEvent.entity == "training_attendance", AuditEvent.entity_id == member.id)
        .order_by(AuditEvent.id)
    )
    return [tuple(row) for row in rows]


def _created(session_id: uuid.UUID, present: bool, source: str) -> dict[str, Any]:
    return {
        "session_id": {"old": None, "new": str(session_id)},
        "present": {"old": None, "new": present},
        "source": {"old": None, "new": source},
    }


def _waits_at_the_session_row(query: str, mode: str) -> bool:
    return "FROM training_session" in query and query.rstrip().endswith(mode)


@pytest.mark.parametrize("marked_present", [False, True], ids=["roll_absent", "roll_present"])
async def test_a_checkin_during_the_roll_waits_for_it(
    app, client, db, auth, course, start, marked_present
):
    """A check-in arriving while the roll is taken waits at the session row (before reading
    any attendance) until the roll commits. It then comes after the roll: over an absent mark
    it records the member present (the audit shows absent → present, roll → check-in); over a
    present mark it answers `already_checked_in` and writes nothing. One row either way."""
    member, villager = course.members[0], course.villagers[0]
    code = await _new_code(client, auth, course)
    async with _transaction(app) as roll:
        marked = await _roll_in(app, roll, course, [member], marked_present)
        assert [(m.member_id, m.present) for m in marked] == [(member.id, marked_present)]
        sent = start(_check_in(client, auth, villager, code))
        query = await _waiting_for(db, roll.pid, sent)
        assert _waits_at_the_session_row(query, "FOR KEY SHARE"), query
        assert await _rows(db, course) == {}  # nothing committed yet
        await roll.session.commit()
    answer = await asyncio.wait_for(sent, 5)

    rolled = ("coordinator", "create", _created(course.session_id, marked_present, "roll"))
    if marked_present:
        assert _outcome(answer) == (409, "already_checked_in")
        assert await _rows(db, course) == {member.id: (True, "roll")}
        assert await _events(db, member) == [rolled]
    else:
        assert _outcome(answer) == (201, None), answer.text
        assert await _rows(db, course) == {member.id: (True, "checkin")}
        assert await _events(db, member) == [
            rolled,
            (
                "villager",
                "update",
                {
                    "present": {"old": False, "new": True},
                    "source": {"old": "roll", "new": "checkin"},
                },
            ),
        ]


@pytest.mark.parametrize("marked_present", [False, True], ids=["roll_absent", "roll_present"])
async def test_the_roll_during_a_checkin_waits_for_it(
    app, client, db, auth, course, start, marked_present
):
    """The roll arriving while a check-in is open waits at the session row until it commits,
    then reads the checked-in row and overwrites it: the audit records an update of it (what
    really changed), not a second creation. Another member on the same roll is created."""
    checked, other = course.members[0], course.members[1]
    code = await _new_code(client, auth, course)
    async with _transaction(app) as open_checkin:
        out = await _check_in_in(app, open_checkin, course.villagers[0], code)
        assert out.member_id == checked.id
        sent = start(_roll(client, auth, course, [checked, other], marked_present))
        query = await _waiting_for(db, open_checkin.pid, sent)
        assert _waits_at_the_session_row(query, "FOR UPDATE"), query
        assert await _rows(db, course) == {}
        await open_checkin.session.commit()
    answer = await asyncio.wait_for(sent, 5)

    assert answer.status_code == 200, answer.text
    marked = answer.json()["items"]
    assert sorted((a["member_id"], a["present"], a["source"]) for a in marked) == sorted(
        (str(m.id), marked_present, "roll") for m in (checked, other)
    )
    assert await _rows(db, course) == {
        checked.id: (marked_present, "roll"),
        other.id: (marked_present, "roll"),
    }
    overwritten = {"source": {"old": "checkin", "new": "roll"}}
    if not marked_present:
        overwritten["present"] = {"old": True, "new": False}
    assert await _events(db, checked) == [
        ("villager", "create", _created(course.session_id, True, "checkin")),
        ("coordinator", "update", overwritten),
    ]
    assert await _events(db, other) == [
        ("coordinator", "create", _created(course.session_id, marked_present, "roll"))
    ]


async def test_checkins_of_different_members_pass_a_key_share_lock(
    app, client, db, auth, course, start
):
    """While another transaction holds FOR KEY SHARE on the session row, two members check in
    at once and neither waits; the roll does wait for that lock (so it was really held)."""
    code = await _new_code(client, auth, course)
    first, second = course.members[:2]
    async with _transaction(app) as holder:
        await holder.session.execute(
            text("SELECT 1 FROM training_session WHERE id = :id FOR KEY SHARE"),
            {"id": course.session_id},
        )
        answers = await _without_waiting(
            db,
            start(_check_in(client, auth, course.villagers[0], code)),
            start(_check_in(client, auth, course.villagers[1], code)),
        )
        assert [_outcome(a) for a in answers] == [(201, None), (201, None)]
        assert await _rows(db, course) == {
            first.id: (True, "checkin"),
            second.id: (True, "checkin"),
        }
        roll = start(_roll(client, auth, course, [first], False))
        query = await _waiting_for(db, holder.pid, roll)
        assert _waits_at_the_session_row(query, "FOR UPDATE"), query
        await holder.session.rollback()
    rolled = await asyncio.wait_for(roll, 5)
    assert rolled.status_code == 200, rolled.text
    assert await _rows(db, course) == {first.id: (False, "roll"), second.id: (True, "checkin")}


async def test_a_checkin_does_not_wait_for_another_members_open_checkin(
    app, client, db, auth, course, start
):
    """One member's check-in, not yet committed, holds the session row FOR KEY SHARE and their
    new attendance row: another member's check-in of the same session completes meanwhile."""
    code = await _new_code(client, auth, course)
    first, second = course.members[:2]
    async with _transaction(app) as open_checkin:
        await _check_in_in(app, open_checkin, course.villagers[0], code)
        [answer] = await _without_waiting(
            db, start(_check_in(client, auth, course.villagers[1], code))
        )
        assert _outcome(answer) == (201, None), answer.text
        assert await _rows(db, course) == {second.id: (True, "checkin")}
        await open_checkin.session.commit()
    assert await _rows(db, course) == {first.id: (True, "checkin"), second.id: (True, "checkin")}
    for member in (first, second):
        assert await _events(db, member) == [
            ("villager", "create", _created(course.session_id, True, "checkin"))
        ]


@pytest.mark.parametrize("first_commits", [True, False], ids=["commit", "rollback"])
async def test_a_second_checkin_of_a_member_waits_for_their_first(
    app, client, db, auth, course, start, first_commits
):
    """The same member checks in again (with another code) while their first check-in is open:
    the second waits at the attendance row's insert for the first to end. If it commits, the
    second answers `already_checked_in`; if it rolls back, the second records them present.
    Either way one row and one audit event: nothing duplicated, nothing lost."""
    member, villager = course.members[0], course.villagers[0]
    codes = [await _new_code(client, auth, course) for _ in range(2)]
    async with _transaction(app) as first:
        await _check_in_in(app, first, villager, codes[0])
        sent = start(_check_in(client, auth, villager, codes[1]))
        query = await _waiting_for(db, first.pid, sent)
        assert query.lstrip().startswith("INSERT INTO training_attendance"), query
        if first_commits:
            await first.session.commit()
    answer = await asyncio.wait_for(sent, 5)

    assert _outcome(answer) == ((409, "already_checked_in") if first_commits else (201, None))
    assert await _rows(db, course) == {member.id: (True, "checkin")}
    assert await _events(db, member) == [
        ("villager", "create", _created(course.session_id, True, "checkin"))
    ]


# --- The audit log's order ---------------------------------------------------------------------


async def _attendance_log(db) -> list[tuple[str, str]]:
    """The attendance events, oldest first, in the log's own order (as listed, reversed)."""
    events = await db.execute(
        select(AuditEvent.actor_role, AuditEvent.action)
        .where(AuditEvent.entity == "training_attendance")
        .order_by(AuditEvent.occurred_at, AuditEvent.id)
    )
    return [tuple(event) for event in events]


async def test_a_checkin_that_waited_for_the_roll_is_logged_after_it(app, client, db, auth, course):
    """Its transaction began first (as a request's does at its first read), but it wrote after
    the roll: the log has the roll's create, then the check-in's update."""
    member, villager = course.members[0], course.villagers[0]
    code = await _new_code(client, auth, course)
    async with _transaction(app) as checking_in, _transaction(app) as roll:
        await checking_in.session.execute(text("SELECT 1"))
        await _roll_in(app, roll, course, [member], False)
        sent = asyncio.ensure_future(_check_in_in(app, checking_in, villager, code))
        await _waiting_for(db, roll.pid, sent)
        await roll.session.commit()
        await asyncio.wait_for(sent, 5)
        await checking_in.session.commit()
    assert await _attendance_log(db) == [("coordinator", "create"), ("villager", "update")]


async def test_a_roll_that_waited_for_a_checkin_is_logged_after_it(app, client, db, auth, course):
    member, villager = course.members[0], course.villagers[0]
    code = await _new_code(client, auth, course)
    async with _transaction(app) as roll, _transaction(app) as checking_in:
        await roll.session.execute(text("SELECT 1"))
        await _check_in_in(app, checking_in, villager, code)
        sent = asyncio.ensure_future(_roll_in(app, roll, course, [member], False))
        await _waiting_for(db, checking_in.pid, sent)
        await checking_in.session.commit()
        await asyncio.wait_for(sent, 5)
        await roll.session.commit()
    assert await _attendance_log(db) == [("villager", "create"), ("coordinator", "update")]
