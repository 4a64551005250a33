"""The visit writer: uploads waiting at the same moment share one batch (one visit statement,
then the member writer's), uploads of one household or one visit id never do, and a failing
batch is written again visit by visit.

To make a batch certain, a test gives the app a writer of one lane and holds that lane: a
first upload's statement waits on a lock on `visit` taken by another connection, the uploads
under test queue behind it, and when the lock goes they are drained together."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import uuid
from collections.abc import AsyncIterator, Iterable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

import asyncpg
import pytest
from sqlalchemy import func, select, text

from app.audit.models import AuditEvent
from app.auth.callers import PRINCIPAL_COLUMNS, AccountSnapshot
from app.auth.models import Role
from app.core.caller import Principal
from app.households.models import MemberEmployment, MemberIntent
from app.visits import service
from app.visits.models import Visit
from app.visits.schemas import VisitIn
from app.visits.writer import PendingVisit, VisitWriter, write_visits
from tests.households.factories import PersonSpec, make_household
from tests.visits.test_visits import VILLAGE_A, VILLAGE_B, _body
from tests.waiting import sent_while_uncommitted, swapped, until

CLIENT_ADDRESS = "203.0.113.7"  # the test client's address (tests/conftest.py)


# --- Arranging -------------------------------------------------------------------------------


@pytest.fixture
async def household(db, settings):
    return await make_household(db, settings, VILLAGE_A, _people())


def _writer(app: Any, *, lanes: int = 1, batch: int = 16) -> VisitWriter:
    return VisitWriter(
        app.state.db,
        lanes=lanes,
        batch=batch,
        review_metres=app.state.settings.visit_max_distance_km * 1000,
    )


def _serving(app: Any, writer: VisitWriter) -> AbstractAsyncContextManager[VisitWriter]:
    """`writer` writes the app's visits for the block."""
    return swapped(app.state, "visit_writer", writer)


def _queued(writer: VisitWriter) -> int:
    """Uploads waiting for a lane."""
    return writer.batcher.waiting


@asynccontextmanager
async def _lane_held(app: Any, writer: VisitWriter, blocker: PendingVisit) -> AsyncIterator[None]:
    """The lane of a one-lane `writer` busy with `blocker`'s statement, stuck on a lock on `visit`
    until the block ends: uploads sent meanwhile wait, to be drained in one batch."""
    started = writer.batcher.calls
    async with app.state.db.engine.connect() as lock:
        await lock.execute(text("LOCK TABLE visit IN SHARE MODE"))
        blocked = asyncio.ensure_future(writer.write(blocker))
        try:
            await until(lambda: writer.batcher.calls == started + 1, "the blocker's statement")
            yield
        finally:
            await lock.rollback()
    row = await asyncio.wait_for(blocked, 5)
    assert row["created"] is True


def _pending(
    coordinator_id: uuid.UUID,
    body: dict[str, Any],
    *,
    regions: Iterable[str] = (VILLAGE_A,),
    sent: dict[str, Any] | None = None,
    period: str | None = None,
) -> PendingVisit:
    """An upload as `service.record_visit` hands it to the writer, by a coordinator of
    `regions`; `sent` overrides what the statement reads of the body, `period` the month of
    its employment rows (past the API's checks)."""
    snapshot = AccountSnapshot(
        **{name: None for name in PRINCIPAL_COLUMNS}
        | {"id": coordinator_id, "role": Role.coordinator.value}
    )
    model = VisitIn.model_validate(body)
    principal = Principal(snapshot, tuple(regions), f"direct-{model.id}", CLIENT_ADDRESS)
    pending = service.pending_visit(principal, model)
    if sent:
        payload = json.loads(pending.payload)
        payload["body"].update(sent)
        pending = dataclasses.replace(pending, payload=json.dumps(payload))
    if period:
        employment = tuple(dataclasses.replace(row, period=period) for row in pending.employment)
        pending = dataclasses.replace(pending, employment=employment)
    return pending


def _findings(members, *, months: int, region: str, intent: str) -> list[dict[str, Any]]:
    """This month's employment of the first member, the intent of the second."""
    return [
        {
            "member_id": str(members[0].id),
            "employment": {"status": "务工", "region": region, "months": months},
        },
        {"member_id": str(members[1].id), "intent": {"intent": intent}},
    ]


def _people() -> list[PersonSpec]:
    return [PersonSpec("韦强"), PersonSpec("韦梅", relation="之女")]


async def _count(db, model=Visit, *where) -> int:
    return await db.scalar(select(func.count()).select_from(model).where(*where))


async def _audit(db, *entity_ids: uuid.UUID) -> list[AuditEvent]:
    return list(
        (
            await db.scalars(
                select(AuditEvent)
                .where(AuditEvent.entity_id.in_(entity_ids))
                .order_by(AuditEvent.occurred_at, AuditEvent.id)
            )
        ).all()
    )


def _counters(writer: VisitWriter) -> tuple[int, int, int]:
    return writer.batcher.calls, writer.batcher.items, writer.batcher.failed_batches


# --- Tests -----------------------------------------------------------------------------------


async def test_concurrent_uploads_share_a_statement_and_keep_their_own_audit(
    app, client, make_user, auth, db, settings
):
    """Twelve uploads at once, of twelve households in two villages: every one 201 with its
    rows and its own audit trail, all written by one batch."""
    coordinator = await make_user(Role.coordinator, [VILLAGE_A, VILLAGE_B])
    headers = auth(coordinator)
    homes = [
        await make_household(db, settings, (VILLAGE_A, VILLAGE_B)[n % 2], _people())
        for n in range(12)
    ]
    spare, _ = await make_household(db, settings, VILLAGE_A)
    bodies = [
        _body(home.id, member_updates=_findings(members, months=n, region="县内", intent="外出"))
        for n, (home, members) in enumerate(homes)
    ]
    writer = _writer(app)
    async with _serving(app, writer):
        before = _counters(writer)
        async with _lane_held(app, writer, _pending(coordinator.id, _body(spare.id))):
            sent = [
                asyncio.ensure_future(
                    client.post(
                        "/api/v1/visits",
                        json=body,
                        headers={**headers, "X-Request-Id": f"upload-{n}"},
                    )
                )
                for n, body in enumerate(bodies)
            ]
            await until(lambda: _queued(writer) == len(bodies), "the uploads to queue")
        responses = await asyncio.gather(*sent)
    assert [r.status_code for r in responses] == [201] * 12, [r.text for r in responses]
    statements, visits, failed = (a - b for a, b in zip(_counters(writer), before, strict=True))
    # The blocker's statement, then one for all twelve.
    assert (statements, visits, failed) == (2, 13, 0)
    assert statements < visits

    assert await _count(db) == 13
    for n, ((home, members), body, response) in enumerate(
        zip(homes, bodies, responses, strict=True)
    ):
        visit_id = uuid.UUID(body["id"])
        answered = response.json()
        assert answered["id"] == body["id"] and answered["household_id"] == str(home.id)
        assert answered["village_code"] == home.village_code
        stored = await db.get(Visit, visit_id)
        assert stored.household_id == home.id and stored.coordinator_id == coordinator.id
        employment = await db.get(MemberEmployment, (members[0].id, "2026-11"))
        assert (employment.status, employment.months, employment.source) == ("务工", n, "visit")
        intent = await db.get(MemberIntent, members[1].id)
        assert (intent.intent, intent.source) == ("外出", "visit")

        events = await _audit(db, visit_id, members[0].id, members[1].id)
        assert sorted((e.entity, e.entity_id, e.action) for e in events) == sorted(
            [
                ("member_employment", members[0].id, "create"),
                ("member_intent", members[1].id, "create"),
                ("visit", visit_id, "create"),
            ]
        )
        for event in events:
            assert event.region_code == home.village_code
            assert event.actor_id == coordinator.id and event.actor_role == "coordinator"
            assert event.request_id == f"upload-{n}"
            assert event.client_address == CLIENT_ADDRESS
        (visit_event,) = (e for e in events if e.entity == "visit")
        assert visit_event.changes["household_id"] == {"old": None, "new": str(home.id)}
        (employment_event,) = (e for e in events if e.entity == "member_employment")
        assert employment_event.changes["months"] == {"old": None, "new": n}
        assert employment_event.changes["period"] == {"old": None, "new": "2026-11"}


@pytest.mark.parametrize("lanes", [1, 4])
async def test_two_uploads_of_one_household_are_written_one_after_the_other(
    app, client, make_user, auth, household, db, settings, lanes
):
    """Two visits of one household at once, updating the same members: both 201, the one
    written second holds the final values, and the audit chains first's new to second's old."""
    (home, members) = household
    coordinator = await make_user(Role.coordinator, [VILLAGE_A])
    headers = auth(coordinator)
    spare, _ = await make_household(db, settings, VILLAGE_A)
    values = {
        "a": {"months": 3, "region": "县内", "intent": "外出"},
        "b": {"months": 9, "region": "省外", "intent": "就近"},
    }
    bodies = {
        name: _body(home.id, member_updates=_findings(members, **found))
        for name, found in values.items()
    }
    writer = _writer(app, lanes=lanes)

    def send(name: str) -> asyncio.Future:
        return asyncio.ensure_future(
            client.post(
                "/api/v1/visits",
                json=bodies[name],
                headers={**headers, "X-Request-Id": f"upload-{name}"},
            )
        )

    async with _serving(app, writer):
        before = _counters(writer)
        if lanes == 1:  # both wait at the same moment, and may not share the batch
            async with _lane_held(app, writer, _pending(coordinator.id, _body(spare.id))):
                sent = [send("a"), send("b")]
                await until(lambda: _queued(writer) == 2, "the uploads to queue")
        else:  # a free lane each, and may not run at once
            await _pending_write(writer, _pending(coordinator.id, _body(spare.id)))
            sent = [send("a"), send("b")]
        responses = await asyncio.gather(*sent)
    assert [r.status_code for r in responses] == [201, 201], [r.text for r in responses]
    statements, visits, failed = (a - b for a, b in zip(_counters(writer), before, strict=True))
    assert (statements, visits, failed) == (3, 3, 0)  # the spare's, then one each
    assert await _count(db, Visit, Visit.household_id == home.id) == 2

    worker, planner = members[0].id, members[1].id
    created, updated = await _audit(db, worker)
    assert (created.action, updated.action) == ("create", "update")
    first = created.request_id.removeprefix("upload-")
    (second,) = set(values) - {first}
    assert updated.request_id == f"upload-{second}"
    assert updated.changes["months"] == {
        "old": values[first]["months"],
        "new": values[second]["months"],
    }
    assert updated.changes["work_region"] == {
        "old": values[first]["region"],
        "new": values[second]["region"],
    }
    employment = await db.get(MemberEmployment, (worker, "2026-11"))
    assert (employment.months, employment.work_region) == (
        values[second]["months"],
        values[second]["region"],
    )

    intent_created, intent_updated = await _audit(db, planner)
    assert [e.request_id for e in (intent_created, intent_updated)] == [
        f"upload-{first}",
        f"upload-{second}",
    ]
    assert intent_updated.changes["intent"] == {
        "old": values[first]["intent"],
        "new": values[second]["intent"],
    }
    assert (await db.get(MemberIntent, planner)).intent == values[second]["intent"]
    visit_events = await _audit(db, *(uuid.UUID(b["id"]) for b in bodies.values()))
    assert sorted(e.request_id for e in visit_events) == ["upload-a", "upload-b"]


async def _pending_write(writer: VisitWriter, visit: PendingVisit) -> asyncpg.Record:
    row = await writer.write(visit)
    assert row["created"] is True
    return row


@pytest.mark.parametrize(
    ("notes", "expected"),
    [(None, [200, 201]), ("另一段记录", [201, 409])],
    ids=["same-body", "different-body"],
)
async def test_one_id_sent_twice_at_once(
    app, client, make_user, auth, household, db, settings, notes, expected
):
    """Two uploads of one id waiting together: written one after the other, so the second
    finds the first's row: 200 with the same body, 409 with another; one row either way."""
    (home, members) = household
    coordinator = await make_user(Role.coordinator, [VILLAGE_A])
    headers = auth(coordinator)
    spare, _ = await make_household(db, settings, VILLAGE_A)
    body = _body(
        home.id, member_updates=[{"member_id": str(members[1].id), "intent": {"intent": "外出"}}]
    )
    other = body if notes is None else {**body, "notes": notes}
    writer = _writer(app)
    async with _serving(app, writer):
        before = _counters(writer)
        async with _lane_held(app, writer, _pending(coordinator.id, _body(spare.id))):
            sent = [
                asyncio.ensure_future(client.post("/api/v1/visits", json=b, headers=headers))
                for b in (body, other)
            ]
            await until(lambda: _queued(writer) == 2, "the uploads to queue")
        responses = await asyncio.gather(*sent)
    by_status = {r.status_code: r for r in responses}
    assert sorted(by_status) == expected, [r.text for r in responses]
    statements, visits, failed = (a - b for a, b in zip(_counters(writer), before, strict=True))
    assert (statements, visits, failed) == (3, 3, 0)  # never in one batch

    visit_id = uuid.UUID(body["id"])
    assert await _count(db, Visit, Visit.household_id == home.id) == 1
    stored = await db.get(Visit, visit_id)
    assert stored.notes == by_status[201].json()["notes"]
    if notes is None:
        assert by_status[200].json() == by_status[201].json()
    else:
        assert by_status[409].json()["code"] == "idempotency_conflict"
    assert len(await _audit(db, visit_id)) == 1
    assert len(await _audit(db, members[1].id)) == 1


async def test_a_failing_batch_is_written_again_visit_by_visit(app, make_user, db, settings):
    """A batch with two uploads the database refuses (a method outside its CHECK, a malformed
    month): the good upload is written, each bad one gets its own error and leaves nothing."""
    coordinator = await make_user(Role.coordinator, [VILLAGE_A])
    good_home, good_members = await make_household(db, settings, VILLAGE_A, _people())
    method_home, method_members = await make_household(db, settings, VILLAGE_A, _people())
    period_home, period_members = await make_household(db, settings, VILLAGE_A, _people())
    spare, _ = await make_household(db, settings, VILLAGE_A)

    def findings(members):
        return _findings(members, months=5, region="县内", intent="就近")

    good = _pending(coordinator.id, _body(good_home.id, member_updates=findings(good_members)))
    bad_method = _pending(
        coordinator.id,
        _body(method_home.id, member_updates=findings(method_members)),
        sent={"method": "teleport"},
    )
    bad_period = _pending(
        coordinator.id,
        _body(period_home.id, member_updates=findings(period_members)),
        period="2026-13",
    )
    writer = _writer(app)
    before = _counters(writer)
    async with _lane_held(app, writer, _pending(coordinator.id, _body(spare.id))):
        sent = [asyncio.ensure_future(writer.write(v)) for v in (good, bad_method, bad_period)]
        await until(lambda: _queued(writer) == 3, "the uploads to queue")
    row, method_error, period_error = await asyncio.gather(*sent, return_exceptions=True)

    # The blocker, the batch of three, then each of the three alone.
    statements, visits, failed = (a - b for a, b in zip(_counters(writer), before, strict=True))
    assert (statements, visits, failed) == (5, 7, 1)
    assert isinstance(row, asyncpg.Record), row
    assert row["created"] is True and row["id"] == good.id
    assert isinstance(method_error, asyncpg.CheckViolationError), method_error
    assert method_error.constraint_name == "ck_visit_method_known"
    assert isinstance(period_error, asyncpg.CheckViolationError), period_error
    assert period_error.constraint_name == "ck_member_employment_period_format"

    assert await _count(db, Visit, Visit.id == good.id) == 1
    assert await _count(db, MemberEmployment, MemberEmployment.member_id == good_members[0].id) == 1
    assert await _count(db, MemberIntent, MemberIntent.member_id == good_members[1].id) == 1
    assert len(await _audit(db, good.id, *(m.id for m in good_members))) == 3
    for bad, members in ((bad_method, method_members), (bad_period, period_members)):
        member_ids = [m.id for m in members]
        assert await _count(db, Visit, Visit.household_id == bad.household_id) == 0
        assert await _count(db, MemberEmployment, MemberEmployment.member_id.in_(member_ids)) == 0
        assert await _count(db, MemberIntent, MemberIntent.member_id.in_(member_ids)) == 0
        assert await _audit(db, bad.id, *member_ids) == []


async def test_a_batch_answers_each_upload_for_itself(
    app, client, make_user, auth, household, db, settings
):
    """One statement for four uploads of different fates: a household outside the caller's
    villages (404), a member of another household (422), a retry of a stored visit (200) and a
    new visit (201). Only the new visit writes anything."""
    (home, members) = household
    coordinator = await make_user(Role.coordinator, [VILLAGE_A])
    headers = auth(coordinator)
    outside, outside_members = await make_household(db, settings, VILLAGE_B, _people())
    named, named_members = await make_household(db, settings, VILLAGE_A, _people())
    _, strangers = await make_household(db, settings, VILLAGE_A, [PersonSpec("外人")])
    retried, _ = await make_household(db, settings, VILLAGE_A)
    spare, _ = await make_household(db, settings, VILLAGE_A)

    stored_body = _body(retried.id, notes="上周的走访")
    stored = await client.post("/api/v1/visits", json=stored_body, headers=headers)
    assert stored.status_code == 201, stored.text

    def findings(household_members):
        return _findings(household_members, months=7, region="县内", intent="外出")

    bodies = {
        404: _body(outside.id, member_updates=findings(outside_members)),
        422: _body(
            named.id,
            member_updates=[
                *findings(named_members),
                {"member_id": str(strangers[0].id), "intent": {"intent": "就近"}},
            ],
        ),
        200: stored_body,
        201: _body(home.id, member_updates=findings(members)),
    }
    writer = _writer(app)
    async with _serving(app, writer):
        before = _counters(writer)
        async with _lane_held(app, writer, _pending(coordinator.id, _body(spare.id))):
            sent = {
                status: asyncio.ensure_future(
                    client.post("/api/v1/visits", json=body, headers=headers)
                )
                for status, body in bodies.items()
            }
            await until(lambda: _queued(writer) == len(bodies), "the uploads to queue")
        responses = dict(zip(sent, await asyncio.gather(*sent.values()), strict=True))
    statements, visits, failed = (a - b for a, b in zip(_counters(writer), before, strict=True))
    assert (statements, visits, failed) == (2, 5, 0)  # the blocker's, then one for all four
    for status, response in responses.items():
        assert response.status_code == status, response.text

    assert responses[404].json()["code"] == "household_not_found"
    assert responses[422].json()["code"] == "member_not_in_household"
    assert str(strangers[0].id) in responses[422].json()["detail"]
    assert responses[200].json() == stored.json()
    assert responses[201].json()["household_id"] == str(home.id)

    # The stored visit, the blocker's and the new one; nothing of the refused two.
    assert await _count(db) == 3
    for refused, household_members in (
        (bodies[404], outside_members),
        (bodies[422], named_members),
    ):
        member_ids = [m.id for m in household_members]
        assert await db.get(Visit, uuid.UUID(refused["id"])) is None
        assert await _count(db, MemberEmployment, MemberEmployment.member_id.in_(member_ids)) == 0
        assert await _count(db, MemberIntent, MemberIntent.member_id.in_(member_ids)) == 0
        assert await _audit(db, uuid.UUID(refused["id"]), *member_ids) == []
    assert await _count(db, MemberIntent, MemberIntent.member_id == strangers[0].id) == 0
    assert len(await _audit(db, uuid.UUID(stored_body["id"]))) == 1  # the retry audits nothing
    new_events = await _audit(db, uuid.UUID(bodies[201]["id"]), *(m.id for m in members))
    assert sorted(e.entity for e in new_events) == ["member_employment", "member_intent", "visit"]
    assert (await db.get(MemberEmployment, (members[0].id, "2026-11"))).months == 7


async def test_a_row_written_by_another_process_meanwhile_is_audited_as_replaced(
    app, client, make_user, auth, household, db
):
    """Another process writes a member's first row of the month after the member writer's
    statement took its snapshot: the statement meets it in its upsert and leaves it, and the
    writer writes it again at once, so the audit records an update of that row, not a second
    create."""
    (home, members) = household
    coordinator = await make_user(Role.coordinator, [VILLAGE_A])
    elsewhere = _pending(
        coordinator.id,
        _body(home.id, member_updates=_findings(members, months=3, region="县内", intent="外出")),
    )
    ours = _body(home.id, member_updates=_findings(members, months=9, region="省外", intent="就近"))
    response = await _sent_while_another_process_writes(
        app, client, db, elsewhere, ours, auth(coordinator)
    )
    assert response.status_code == 201, response.text

    created, updated = await _audit(db, members[0].id)
    assert (created.action, updated.action) == ("create", "update")
    assert updated.changes["months"] == {"old": 3, "new": 9}
    assert updated.changes["work_region"] == {"old": "县内", "new": "省外"}
    intent_created, intent_updated = await _audit(db, members[1].id)
    assert (intent_created.action, intent_updated.action) == ("create", "update")
    assert intent_updated.changes["intent"] == {"old": "外出", "new": "就近"}
    assert (await db.get(MemberEmployment, (members[0].id, "2026-11"))).months == 9


async def _sent_while_another_process_writes(
    app, client, db, theirs: PendingVisit, ours: dict[str, Any], headers: dict[str, str]
):
    """`ours` uploaded while another process has written `theirs` in a transaction still open:
    the upload's statement takes its snapshot, meets their rows and waits; then they commit."""
    return await sent_while_uncommitted(
        app,
        db,
        lambda other: write_visits(other, [theirs], 5000.0),
        client.post("/api/v1/visits", json=ours, headers=headers),
    )


@pytest.mark.parametrize("same_body", [True, False], ids=["same-body", "different-body"])
async def test_an_id_stored_by_another_process_meanwhile_is_answered_from_it(
    app, client, make_user, auth, household, db, same_body
):
    """Another process stores the same visit id after this statement's snapshot: the statement
    writes nothing, then the stored visit is read apart from it and answered (200), or 409 when
    its body differs."""
    (home, _) = household
    coordinator = await make_user(Role.coordinator, [VILLAGE_A])
    body = _body(home.id)
    theirs = body if same_body else {**body, "notes": "另一次上传"}
    response = await _sent_while_another_process_writes(
        app, client, db, _pending(coordinator.id, theirs), body, auth(coordinator)
    )
    if same_body:
        assert response.status_code == 200, response.text
        assert response.json()["id"] == body["id"]
    else:
        assert response.status_code == 409, response.text
        assert response.json()["code"] == "idempotency_conflict"
    assert await _count(db, Visit, Visit.id == uuid.UUID(body["id"])) == 1
    assert len(await _audit(db, uuid.UUID(body["id"]))) == 1
