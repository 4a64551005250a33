"""The one writer of a member's monthly employment and intent (`app.households.writer`): every
path that records them (a PUT, a hire, a visit, a staging table filled by COPY) gets the same
merge, normalisation, race handling and audit rows."""

from __future__ import annotations

import re
import sys
import uuid
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import select, text

from app.audit.models import AuditEvent
from app.auth.models import Role
from app.core.caller import Principal
from app.core.config import PROJECT_ROOT
from app.core.periods import current_period
from app.households import writer
from app.households.models import MemberEmployment, MemberIntent
from app.households.writer_sql import WHITESPACE
from tests.households.factories import PersonSpec, make_household
from tests.jobs.conftest import add_jobs
from tests.visits.test_visits import _body
from tests.waiting import sent_while_uncommitted

VILLAGE_A = "450226100201"
ELSEWHERE = Principal.system("another-process").actor


@pytest.fixture
async def household(db, settings):
    return await make_household(
        db, settings, VILLAGE_A, [PersonSpec("韦强"), PersonSpec("韦梅", relation="之女")]
    )


@pytest.fixture
async def headers(make_user, auth):
    return auth(await make_user(Role.coordinator, [VILLAGE_A]))


async def _audit(db, entity: str, entity_id: uuid.UUID) -> list[AuditEvent]:
    return list(
        (
            await db.scalars(
                select(AuditEvent)
                .where(AuditEvent.entity == entity, AuditEvent.entity_id == entity_id)
                .order_by(AuditEvent.occurred_at, AuditEvent.id)
            )
        ).all()
    )


async def _fresh(db, model, key):
    return await db.get(model, key, populate_existing=True)


# --- The input types and the normalisation ----------------------------------------------------


@pytest.mark.parametrize("kind", [writer.EMPLOYMENT, writer.INTENT], ids=lambda k: k.type_name)
async def test_each_input_type_has_the_fields_the_writer_sends(db, kind):
    """The composite type (migrated) and the fields the rows are sent in, in the same order."""
    attributes = await db.scalars(
        text(
            "SELECT a.attname FROM pg_type t JOIN pg_attribute a ON a.attrelid = t.typrelid"
            " WHERE t.typname = :name AND a.attnum > 0 ORDER BY a.attnum"
        ),
        {"name": kind.type_name},
    )
    assert tuple(attributes.all()) == kind.fields


def test_the_trimmed_whitespace_is_what_python_strips():
    stripped = {chr(c) for c in range(sys.maxunicode + 1) if chr(c).isspace()}
    assert set(WHITESPACE) == stripped


def test_a_time_without_an_offset_never_reaches_the_database(household):
    with pytest.raises(ValueError, match="UTC offset"):
        writer.IntentWrite(
            ELSEWHERE, uuid.uuid4(), "外出", None, (), (), "visit", datetime(2026, 11, 20, 10)
        )


def test_nothing_else_writes_the_tables():
    """Inserts into the two tables live in the writer's statements only (the demo's seeded
    population aside: a synthetic history, not observations)."""
    writes = re.compile(
        r"(INSERT INTO|UPDATE|DELETE FROM) member_(employment|intent)\b"
        r"|(?<!class )\bMember(Employment|Intent)\(|insert\(Member(Employment|Intent)\)"
    )
    allowed = {Path("app/households/writer_sql.py"), Path("app/demo/population.py")}
    found = [
        path.relative_to(PROJECT_ROOT)
        for path in (PROJECT_ROOT / "app").rglob("*.py")
        if writes.search(path.read_text())
    ]
    assert set(found) <= allowed, found


# --- Divergences the two former writers had, through each path -------------------------------


def _intent_by(path: str, client, headers, home, member):
    async def send(intent: dict):
        if path == "put":
            return await client.put(
                f"/api/v1/members/{member.id}/intent", json=intent, headers=headers
            )
        update = {"member_id": str(member.id), "intent": intent}
        return await client.post(
            "/api/v1/visits", json=_body(home.id, member_updates=[update]), headers=headers
        )

    return send


@pytest.mark.parametrize("path", ["put", "visit"])
async def test_a_reason_is_trimmed_as_python_trims_it(client, headers, household, db, path):
    """Full-width spaces and tabs around a reason go, whichever path writes it; a reason of
    whitespace only is no reason."""
    home, (first, second) = household
    reason = "\u3000\t照顾老人 \u3000"
    answered = await _intent_by(path, client, headers, home, first)(
        {"intent": "无意愿", "reason": reason}
    )
    assert answered.status_code in (200, 201), answered.text
    assert (await _fresh(db, MemberIntent, first.id)).reason == reason.strip() == "照顾老人"
    (event,) = await _audit(db, "member_intent", first.id)
    assert event.changes["reason"] == {"old": None, "new": "照顾老人"}

    blank = await _intent_by(path, client, headers, home, second)(
        {"intent": "外出", "reason": "\u3000\t"}
    )
    assert blank.status_code in (200, 201), blank.text
    assert (await _fresh(db, MemberIntent, second.id)).reason is None
    refused = await _intent_by(path, client, headers, home, second)(
        {"intent": "无意愿", "reason": "\u3000\t"}
    )
    assert refused.status_code == 422 and refused.json()["code"] == "validation_failed"


@pytest.mark.parametrize("path", ["put", "visit"])
async def test_an_observed_at_without_an_offset_is_refused(client, headers, household, db, path):
    home, (member, _) = household
    employment = {"status": "务工", "region": "县内", "observed_at": "2026-11-20T10:30:00"}
    if path == "put":
        response = await client.put(
            f"/api/v1/members/{member.id}/employment/2026-11", json=employment, headers=headers
        )
    else:
        update = {"member_id": str(member.id), "employment": employment}
        response = await client.post(
            "/api/v1/visits", json=_body(home.id, member_updates=[update]), headers=headers
        )
    assert response.status_code == 422, response.text
    assert response.json()["code"] == "validation_failed"
    assert await db.get(MemberEmployment, (member.id, "2026-11")) is None


async def _employment_first(other, member_id, period, **values):
    row = {
        "status": "务工", "work_region": "县内", "channel": None, "employer": None,
        "months": 3, "income": None, **values,
    }  # fmt: skip
    await writer.write_employment(
        other,
        [writer.EmploymentWrite(ELSEWHERE, member_id, period, source="manual", **row)],
    )


async def test_two_first_writes_of_a_month_at_once_by_put(app, client, headers, household, db):
    """Another process writes the member's first row of the month and has not committed when
    the PUT's statement takes its snapshot: both succeed, the PUT's an update of theirs."""
    _, (member, _) = household
    response = await sent_while_uncommitted(
        app,
        db,
        lambda other: _employment_first(other, member.id, "2026-11"),
        client.put(
            f"/api/v1/members/{member.id}/employment/2026-11",
            json={"status": "务工", "region": "省外", "months": 9},
            headers=headers,
        ),
    )
    assert response.status_code == 200, response.text
    assert (response.json()["months"], response.json()["region"]) == (9, "省外")
    created, updated = await _audit(db, "member_employment", member.id)
    assert (created.action, created.actor_role) == ("create", "system")
    assert (updated.action, updated.actor_role) == ("update", "coordinator")
    assert updated.changes == {
        "months": {"old": 3, "new": 9},
        "work_region": {"old": "县内", "new": "省外"},
    }


async def test_two_first_intent_writes_at_once_by_put(app, client, headers, household, db):
    _, (member, _) = household

    async def theirs(other):
        first = writer.IntentWrite(ELSEWHERE, member.id, "外出", None, ("电工",), (), "feed")
        await writer.write_intents(other, [first])

    response = await sent_while_uncommitted(
        app,
        db,
        theirs,
        client.put(
            f"/api/v1/members/{member.id}/intent",
            json={"intent": "就近", "training_needs": ["电工"]},
            headers=headers,
        ),
    )
    assert response.status_code == 200, response.text
    created, updated = await _audit(db, "member_intent", member.id)
    assert (created.action, updated.action) == ("create", "update")
    assert updated.changes == {
        "intent": {"old": "外出", "new": "就近"},
        "source": {"old": "feed", "new": "manual"},
    }
    assert (await _fresh(db, MemberIntent, member.id)).intent == "就近"


async def test_two_first_writes_of_a_month_at_once_by_a_hire(app, client, headers, household, db):
    """The month's first row written elsewhere while the hire's statement runs: the hire
    updates it, and keeps the months and income that row recorded."""
    _, (member, _) = household
    (job,) = await add_jobs(db, 1, employer="东莞某玩具厂", location_type="省内县外")
    pushed = await client.post(
        "/api/v1/job-pushes",
        json={"job_id": str(job.id), "member_ids": [str(member.id)]},
        headers=headers,
    )
    push_id = pushed.json()["items"][0]["id"]
    period = current_period()

    async def theirs(other):
        await _employment_first(
            other, member.id, period, status="未务工", work_region=None, months=5,
            income=Decimal("3000.00"),
        )  # fmt: skip

    response = await sent_while_uncommitted(
        app,
        db,
        theirs,
        client.patch(f"/api/v1/job-pushes/{push_id}", json={"result": "hired"}, headers=headers),
    )
    assert response.status_code == 200, response.text
    row = await _fresh(db, MemberEmployment, (member.id, period))
    assert (row.status, row.employer, row.months, row.income) == (
        "务工",
        "东莞某玩具厂",
        5,
        Decimal("3000.00"),
    )
    created, updated = await _audit(db, "member_employment", member.id)
    assert (created.action, updated.action) == ("create", "update")
    assert set(updated.changes) == {"status", "work_region", "channel", "employer"}


# --- A staging table filled by COPY -----------------------------------------------------------


async def test_rows_from_a_staging_table_filled_by_copy(app, household, db):
    """The feed's way in: rows COPYed into a temporary table of the input type, written by the
    same statement, with the same merge, trimming and audit rows."""
    _, (first, second) = household
    at = datetime(2026, 11, 20, 2, 30, tzinfo=UTC)
    async with app.state.db.driver_connection() as connection, connection.transaction():
        await writer.write_employment(
            connection,
            [
                writer.EmploymentWrite(
                    ELSEWHERE, first.id, "2026-11", "未务工", None, None, None, 4,
                    Decimal("1200.00"), "manual",
                )
            ],
        )  # fmt: skip

    feed = ("feed-user", "system", "feed-import", None)
    async with app.state.db.driver_connection() as connection, connection.transaction():
        await writer.create_staging_table(connection, writer.EMPLOYMENT, "staged_employment")
        await connection.copy_records_to_table(
            "staged_employment",
            records=[
                # A hire-like row over the month already there: its months and income stay.
                (first.id, "2026-11", "务工", "省外", "外出务工", "东莞某厂", 0, None, True,
                 "feed", at, None, *feed[1:]),
                # The same month twice: the later row wins.
                (second.id, "2026-11", "务工", "县内", None, None, 2, None, False, "feed", at,
                 None, *feed[1:]),
                (second.id, "2026-11", "务工", "县内", None, None, 6, None, False, "feed", at,
                 None, *feed[1:]),
            ],
        )  # fmt: skip
        await writer.write_staged(connection, writer.EMPLOYMENT, "staged_employment")

        await writer.create_staging_table(connection, writer.INTENT, "staged_intent")
        await connection.copy_records_to_table(
            "staged_intent",
            records=[
                (second.id, "无意愿", "\u3000照顾老人\t", ["电工"], None, "feed", None, None,
                 *feed[1:]),
            ],
        )  # fmt: skip
        await writer.write_staged(connection, writer.INTENT, "staged_intent")

    hired = await _fresh(db, MemberEmployment, (first.id, "2026-11"))
    assert (hired.status, hired.work_region, hired.months, hired.income) == (
        "务工",
        "省外",
        4,
        Decimal("1200.00"),
    )
    assert hired.observed_at == at and hired.source == "feed"
    assert (await _fresh(db, MemberEmployment, (second.id, "2026-11"))).months == 6
    intent = await _fresh(db, MemberIntent, second.id)
    assert (intent.reason, intent.training_needs, intent.wanted_job_types) == (
        "照顾老人",
        ["电工"],
        [],
    )

    _, update = await _audit(db, "member_employment", first.id)
    assert update.action == "update" and update.request_id == "feed-import"
    assert update.changes == {
        "status": {"old": "未务工", "new": "务工"},
        "work_region": {"old": None, "new": "省外"},
        "channel": {"old": None, "new": "外出务工"},
        "employer": {"old": None, "new": "东莞某厂"},
        "source": {"old": "manual", "new": "feed"},
    }
    (created,) = await _audit(db, "member_employment", second.id)
    assert created.action == "create" and created.changes["months"] == {"old": None, "new": 6}
    assert created.region_code == VILLAGE_A
    (intent_event,) = await _audit(db, "member_intent", second.id)
    assert intent_event.changes["reason"] == {"old": None, "new": "照顾老人"}


# --- One audit trail, whichever path writes --------------------------------------------------


async def test_a_typed_month_then_a_visit_leave_one_audit_trail(client, headers, household, db):
    """A PUT and a visit write through the same statement, so the trail reads the same: old
    and new of each changed field, money as a string, a new month naming its period."""
    home, members = household
    worker = members[0].id
    typed = {
        "status": "务工",
        "region": "县内",
        "channel": "就业帮扶车间",
        "months": 6,
        "income": 1500,
    }
    put = await client.put(
        f"/api/v1/members/{worker}/employment/2026-11", json=typed, headers=headers
    )
    assert put.status_code == 200, put.text
    (typed_create,) = await _audit(db, "member_employment", worker)

    update = {"member_id": str(worker), "employment": {**typed, "months": 8, "income": "1800"}}
    fresh = {
        "member_id": str(members[1].id),
        "intent": {"intent": "无意愿", "reason": " 照顾老人 "},
    }
    body = _body(home.id, member_updates=[update, fresh])
    assert (await client.post("/api/v1/visits", json=body, headers=headers)).status_code == 201

    _, by_visit = await _audit(db, "member_employment", worker)
    assert by_visit.action == "update"
    assert by_visit.changed_fields == ["income", "months", "source"]
    assert by_visit.changes == {
        "income": {"old": "1500.00", "new": "1800.00"},
        "months": {"old": 6, "new": 8},
        "source": {"old": "manual", "new": "visit"},
    }
    assert typed_create.action == "create" and "period" in typed_create.changed_fields
    assert typed_create.changes["income"] == {"old": None, "new": "1500.00"}
    (intent,) = await _audit(db, "member_intent", members[1].id)
    assert intent.action == "create"
    assert intent.changes["reason"] == {"old": None, "new": "照顾老人"}
    assert intent.changes["training_needs"] == {"old": None, "new": []}
    (visit,) = await _audit(db, "visit", uuid.UUID(body["id"]))
    assert visit.changes["household_id"]["new"] == str(home.id)
    assert {visit.region_code, by_visit.region_code, intent.region_code} == {VILLAGE_A}
    assert by_visit.actor_role == "coordinator" and by_visit.request_id
    # Ids made by the statements (the database's uuid_v7).
    assert {e.id.version for e in (typed_create, by_visit, intent, visit)} == {7}


# --- A row as it stands already ---------------------------------------------------------------


async def test_a_row_written_again_as_it_stands_writes_nothing(app, household, db):
    """The same month and intent written twice (a feed page read again, a file imported
    again): the second write changes no row version and leaves no audit row; a newer
    observation of the same values, or another value, is written."""
    _, (first, _) = household
    at = datetime(2026, 11, 20, 2, 30, tzinfo=UTC)

    def month(months: int, observed_at: datetime | None = at) -> writer.EmploymentWrite:
        return writer.EmploymentWrite(
            ELSEWHERE, first.id, "2026-11", "务工", "县内", None, "某车间", months,
            Decimal("1500"), "feed", observed_at,
        )  # fmt: skip

    intent = writer.IntentWrite(ELSEWHERE, first.id, "无意愿", " 照顾老人", ("电工",), (), "feed")

    async def write(*rows: writer.EmploymentWrite) -> tuple[int, int]:
        async with app.state.db.driver_connection() as connection, connection.transaction():
            await writer.write_employment(connection, rows)
            await writer.write_intents(connection, [intent])
        return await _versions()

    async def _versions() -> tuple[int, int]:
        employment = await db.scalar(
            text("SELECT xmin::text::bigint FROM member_employment WHERE member_id = :m"),
            {"m": first.id},
        )
        intent_version = await db.scalar(
            text("SELECT xmin::text::bigint FROM member_intent WHERE member_id = :m"),
            {"m": first.id},
        )
        return employment, intent_version

    written = await write(month(6))
    assert await write(month(6)) == written
    assert await write(month(6, observed_at=None)) == written
    assert len(await _audit(db, "member_employment", first.id)) == 1
    assert len(await _audit(db, "member_intent", first.id)) == 1

    # A newer observation of the same values is written (its time) but changes no value.
    later = await write(month(6, observed_at=datetime(2026, 11, 21, tzinfo=UTC)))
    assert later[0] != written[0] and later[1] == written[1]
    assert len(await _audit(db, "member_employment", first.id)) == 1
    assert (await write(month(7)))[0] != later[0]
    assert len(await _audit(db, "member_employment", first.id)) == 2
