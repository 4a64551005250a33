"""The per-member employment history is kept by the one member writer, through every path that
writes months (a PUT, a visit, the feed's staged write), whatever the order of the months, and
is left alone by a write that changes nothing: after each write it equals the history rebuilt
from the stored months (`app.alerts.history.REBUILD`)."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import replace
from typing import Any

import pytest
from sqlalchemy import text

from app.alerts.history import HISTORY_MONTHS, month_index
from app.auth.models import Role
from app.core.caller import Principal
from app.core.crypto import PiiCipher
from app.core.scope import Scope
from app.demo.population import seed_population
from app.feed.apply import apply_records
from app.households import writer
from tests.feed.records import VILLAGE_A, month, record
from tests.households.factories import PersonSpec, make_household

SYSTEM = Principal.system("feed.sync").actor
_COLUMNS = "base, recorded, working, away, flexible, farming, changed, employers, ytd"

_REBUILT = text(
    f"SELECT {', '.join('n.' + c for c in _COLUMNS.split(', '))}"  # noqa: S608
    " FROM (SELECT e.member_id, "
    + HISTORY_MONTHS.replace("<row>", "e")
    + " FROM member_employment AS e WHERE e.member_id = :id GROUP BY e.member_id) AS g"
    " CROSS JOIN LATERAL employment_history_overlay(NULL, g.member_id, g.months, g.working,"
    " g.away, g.flexible, g.farming, g.employers, g.incomes) AS n"
)


async def _stored(db: Any, member_id: uuid.UUID) -> tuple[Any, ...] | None:
    row = (
        await db.execute(
            text(f"SELECT {_COLUMNS} FROM member_employment_history WHERE member_id = :id"),  # noqa: S608
            {"id": member_id},
        )
    ).first()
    await db.rollback()
    return tuple(row) if row else None


async def _version(db: Any, member_id: uuid.UUID) -> str:
    version = await db.scalar(
        text("SELECT xmin::text FROM member_employment_history WHERE member_id = :id"),
        {"id": member_id},
    )
    await db.rollback()
    return version


async def _agrees(db: Any, member_id: uuid.UUID) -> tuple[Any, ...]:
    stored = await _stored(db, member_id)
    rebuilt = tuple((await db.execute(_REBUILT, {"id": member_id})).one())
    await db.rollback()
    assert stored == rebuilt
    return stored


async def _feed(app: Any, settings: Any, *records: Any) -> None:
    async with app.state.db.driver_connection() as connection, connection.transaction():
        await apply_records(
            connection,
            list(records),
            cipher=PiiCipher.from_settings(settings),
            actor=SYSTEM,
            scope=Scope.everything(),
        )


def _bit(mask: int, base: int, period: str) -> bool:
    return bool(mask >> (month_index(period) - base) & 1)


async def test_every_writer_path_keeps_the_history(app, settings, db, client, make_user, auth):
    # The feed's staged write creates the member with August.
    august = replace(month(period="2026-08"), region="省外", channel="外出务工")
    await _feed(app, settings, record("M1", employment=august))
    member_id = await db.scalar(text("SELECT id FROM member WHERE member_no = 'M1'"))
    await db.rollback()
    history = await _agrees(db, member_id)
    base, _, working, away = history[:4]
    assert base == month_index("2024-01")
    assert _bit(working, base, "2026-08") and _bit(away, base, "2026-08")

    headers = auth(await make_user(Role.coordinator, [VILLAGE_A]))
    # A PUT of October, then of an older month (out of order).
    for period, body in [
        ("2026-10", {"status": "未务工"}),
        ("2025-03", {"status": "务工", "region": "县内", "channel": "灵活就业", "income": 900}),
    ]:
        response = await client.put(
            f"/api/v1/members/{member_id}/employment/{period}", json=body, headers=headers
        )
        assert response.status_code == 200, response.text
        history = await _agrees(db, member_id)
    base, recorded, working, _, flexible = history[:5]
    assert _bit(recorded, base, "2026-10") and not _bit(working, base, "2026-10")
    assert _bit(flexible, base, "2025-03")

    # A visit in November writes November.
    visit = {
        "id": str(uuid.uuid4()),
        "household_id": str(
            await db.scalar(
                text("SELECT household_id FROM member WHERE id = :id"), {"id": member_id}
            )
        ),
        "visited_at": "2026-11-20T10:30:00+08:00",
        "method": "in_person",
        "location": {"lat": 25.7950, "lon": 109.6080},
        "notes": "回访",
        "member_updates": [
            {
                "member_id": str(member_id),
                "employment": {"status": "务工", "region": "县内", "channel": "务农", "months": 1},
            }
        ],
    }
    await db.rollback()
    response = await client.post("/api/v1/visits", json=visit, headers=headers)
    assert response.status_code == 201, response.text
    history = await _agrees(db, member_id)
    assert _bit(history[5], history[0], "2026-11")  # farming

    # The feed again: September new, August rewritten with another employer (one batch).
    september = replace(month(period="2026-09"), employer="乙厂")
    august_again = replace(august, employer="丙厂", income=None)
    await _feed(
        app,
        settings,
        record("M1", employment=september),
        replace(record("M1", employment=august_again), line=99),
    )
    await _agrees(db, member_id)


async def test_a_write_that_changes_nothing_leaves_the_history(app, settings, db):
    batch = [record("M1", employment=month(period="2026-10"))]
    await _feed(app, settings, *batch)
    member_id = await db.scalar(text("SELECT id FROM member WHERE member_no = 'M1'"))
    await db.rollback()
    before = await _version(db, member_id)
    await _feed(app, settings, *batch)
    assert await _version(db, member_id) == before
    await _agrees(db, member_id)


async def test_the_window_moves_with_the_latest_year(app, settings, db, client, make_user, auth):
    await _feed(app, settings, record("M1", employment=month(period="2025-06")))
    member_id = await db.scalar(text("SELECT id FROM member WHERE member_no = 'M1'"))
    await db.rollback()
    headers = auth(await make_user(Role.coordinator, [VILLAGE_A]))
    working = {"status": "务工", "region": "县内", "channel": "灵活就业", "income": 1000}
    # Older than the window (three calendar years ending with the latest): not kept.
    for period in ("2022-05", "2027-01", "2026-12", "2024-12"):
        response = await client.put(
            f"/api/v1/members/{member_id}/employment/{period}", json=working, headers=headers
        )
        assert response.status_code == 200, response.text
        history = await _agrees(db, member_id)
    base, recorded = history[:2]
    assert base == month_index("2025-01")
    assert _bit(recorded, base, "2025-06") and _bit(recorded, base, "2027-01")
    assert recorded.bit_count() == 3  # 2025-06, 2026-12, 2027-01: 2024-12 fell out
    ytd = history[8]
    assert ytd[month_index("2026-12") - base] == 100000  # fen, January to December 2026


async def test_the_demo_population_has_its_history(app, settings, db):
    async with app.state.db.engine.begin() as connection:
        await seed_population(connection, settings, households=20, end_period="2026-10")
    labourers = (await db.scalars(text("SELECT DISTINCT member_id FROM member_employment"))).all()
    await db.rollback()
    assert labourers
    for member_id in labourers:
        await _agrees(db, member_id)


@pytest.mark.parametrize("first_month", ["2026-06", None])
async def test_two_batches_writing_one_member_at_once_both_land(app, settings, db, first_month):
    """Two transactions write other months of one member at the same time: the second waits
    on the first's history row (or its new row), then folds its month into the latest
    version. Without history yet (`None`), both insert and the second meets the first's
    row."""
    _, (member,) = await make_household(db, settings, VILLAGE_A, [PersonSpec("韦一")])
    if first_month:
        async with app.state.db.driver_connection() as connection, connection.transaction():
            await writer.write_employment(connection, [_month(member.id, first_month)])

    async with app.state.db.driver_connection() as one, app.state.db.driver_connection() as two:
        first = one.transaction()
        await first.start()
        await writer.write_employment(one, [_month(member.id, "2026-09")])
        second = asyncio.create_task(_write_in(two, _month(member.id, "2026-10")))
        await asyncio.sleep(0.3)
        assert not second.done()  # waiting on the first's row
        await first.commit()
        await second
    base, recorded = (await _agrees(db, member.id))[:2]
    assert _bit(recorded, base, "2026-09") and _bit(recorded, base, "2026-10")


def _month(member_id: uuid.UUID, period: str) -> writer.EmploymentWrite:
    return writer.EmploymentWrite(
        actor=SYSTEM, member_id=member_id, period=period, status="务工", work_region="县内",
        channel="灵活就业", employer=None, months=1, income=None, source="manual",
    )  # fmt: skip


async def _write_in(connection: Any, row: writer.EmploymentWrite) -> None:
    async with connection.transaction():
        await writer.write_employment(connection, [row])
