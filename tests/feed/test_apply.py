"""Applying feed records to the registry (`app.feed.apply`): households, members and months
where they differ, nothing when they do not, soft deletion, refusals, and reconciliation."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from sqlalchemy import func, select, text

from app.audit.models import AuditEvent
from app.core.caller import Principal
from app.core.crypto import PiiCipher
from app.core.scope import Scope
from app.feed.apply import apply_records
from app.feed.models import FeedConflict, FeedSetting
from app.households import writer
from app.households.models import Household, Member, MemberEmployment
from tests.feed.records import AT, OTHER_TOWNSHIP_VILLAGE, VILLAGE_A, month, record

SYSTEM = Principal.system("feed.sync").actor


async def _apply(app, settings, records, scope=None):
    async with app.state.db.driver_connection() as connection, connection.transaction():
        return await apply_records(
            connection,
            records,
            cipher=PiiCipher.from_settings(settings),
            actor=SYSTEM,
            scope=scope or Scope.everything(),
        )


async def _row_versions(db) -> int:
    """How many row versions the registry tables hold written since the last ANALYZE: any
    write changes xmin, so the sum of xmins changes."""
    return await db.scalar(
        text(
            "SELECT (SELECT coalesce(sum(xmin::text::bigint), 0) FROM household)"
            " + (SELECT coalesce(sum(xmin::text::bigint), 0) FROM member)"
            " + (SELECT coalesce(sum(xmin::text::bigint), 0) FROM member_employment)"
            " + (SELECT count(*) FROM audit_event)"
        )
    )


async def test_records_create_then_a_second_read_writes_nothing(app, settings, db):
    batch = [
        record("M1", employment=month()),
        record("M2", relation="配偶", employment=month("未务工")),
        record("M3", household_no="H2", village=VILLAGE_A),
    ]
    first = await _apply(app, settings, batch)
    assert (first.new, first.changed, first.unchanged, first.rejected) == (3, 0, 0, 0)
    assert await db.scalar(select(func.count()).select_from(Household)) == 2
    employment = await db.scalar(
        select(MemberEmployment).join(Member).where(Member.member_no == "M1")
    )
    assert (employment.status, employment.source, employment.observed_at) == ("务工", "feed", AT)
    before = await _row_versions(db)

    again = await _apply(app, settings, batch)
    assert (again.new, again.changed, again.unchanged) == (0, 0, 3)
    assert await _row_versions(db) == before

    # One field of one member: one record changed, one audit row.
    changed = await _apply(app, settings, [replace(batch[1], labour_type="技能劳动力")])
    assert (changed.changed, changed.unchanged) == (1, 0)
    event = await db.scalar(
        select(AuditEvent).where(AuditEvent.entity == "member", AuditEvent.action == "update")
    )
    assert event.changes == {"labour_type": {"old": "普通劳动力", "new": "技能劳动力"}}


async def test_personal_data_is_stored_encrypted(app, settings, db):
    await _apply(app, settings, [record("M1")])
    plaintext = record("M1").id_number.encode()
    raw = await db.scalar(text("SELECT id_number_cipher FROM member"))
    assert plaintext not in raw
    dump = await db.scalar(text("SELECT string_agg(to_jsonb(a)::text, '') FROM audit_event a"))
    assert record("M1").id_number not in dump and "13800000000" not in dump


async def test_a_deleted_member_leaves_softly(app, settings, db):
    await _apply(app, settings, [record("M1"), record("M2", relation="之子")])
    gone = await _apply(app, settings, [record("M2", relation="之子", deleted=True)])
    assert (gone.deleted, gone.changed) == (1, 0)
    member = await db.scalar(select(Member).where(Member.member_no == "M2"))
    assert member.deleted_at is not None
    assert (
        await db.scalar(
            select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "delete")
        )
        == 1
    )
    # Deleted again: nothing more; a deleted record never seen before creates nothing.
    again = await _apply(
        app, settings, [record("M2", relation="之子", deleted=True), record("M9", deleted=True)]
    )
    assert (again.deleted, again.new, again.unchanged) == (0, 0, 2)
    assert await db.scalar(select(func.count()).select_from(Member)) == 2


async def test_refused_records_are_reported_and_id_numbers_become_items(app, settings, db):
    outcome = await _apply(
        app,
        settings,
        [
            record("M1", serial=1),
            record("M2", village="450226999999"),
            record("M3", serial=1, household_no="H3"),  # M1's ID number
            record("M4", household_no="H4", id_number_valid=False),
        ],
    )
    assert outcome.rejected == 4 and outcome.new == 0
    reasons = {(e.column, e.reason) for e in outcome.errors}
    assert ("行政区划代码", "行政区划代码不是本系统已知的村级区划") in reasons
    kinds = dict((await db.execute(select(FeedConflict.member_no, FeedConflict.kind))).all())
    assert kinds == {"M1": "id_number_shared", "M3": "id_number_shared", "M4": "id_number_invalid"}
    shared = await db.scalar(select(FeedConflict).where(FeedConflict.member_no == "M1"))
    assert shared.theirs["shared_with"] == ["M3"]
    assert record("M1").id_number not in str(shared.theirs)


async def test_records_outside_the_uploaders_region_are_refused(app, settings, db):
    township = Scope.of_regions(["450226100000"])
    outcome = await _apply(
        app,
        settings,
        [record("M1"), record("M2", household_no="H2", village=OTHER_TOWNSHIP_VILLAGE)],
        scope=township,
    )
    assert (outcome.new, outcome.rejected) == (1, 1)
    assert outcome.errors[0].reason == "该户不在您的管辖范围内"


async def _coordinator_month(app, db, status: str, *, observed_at=AT - timedelta(days=1)) -> None:
    member = await db.scalar(select(Member).where(Member.member_no == "M1"))
    async with app.state.db.driver_connection() as connection, connection.transaction():
        await writer.write_employment(
            connection,
            [
                writer.EmploymentWrite(
                    SYSTEM, member.id, "2026-11", status, None, None, None, 0, None, "visit",
                    observed_at,
                )
            ],
        )  # fmt: skip


async def test_a_disagreement_becomes_an_item_and_ours_stays_by_default(app, settings, db):
    await _apply(app, settings, [record("M1")])
    await _coordinator_month(app, db, "未务工")
    await _apply(app, settings, [record("M1", employment=month("务工"))])

    kept = await db.scalar(select(MemberEmployment))
    assert (kept.status, kept.source) == ("未务工", "visit")
    item = await db.scalar(select(FeedConflict))
    assert (item.kind, item.period, item.status) == ("employment", "2026-11", "open")
    assert item.ours["status"] == "未务工" and item.ours["source"] == "visit"
    assert item.theirs["status"] == "务工" and item.theirs["source"] == "feed"
    # Read again: the same item, not a second one.
    await _apply(app, settings, [record("M1", employment=month("务工"))])
    assert await db.scalar(select(func.count()).select_from(FeedConflict)) == 1


async def test_a_county_may_let_the_newer_observation_show(app, settings, db):
    db.add(FeedSetting(county_code="450226000000", precedence="newer"))
    await db.commit()
    await _apply(app, settings, [record("M1")])
    await _coordinator_month(app, db, "未务工")
    await _apply(app, settings, [record("M1", employment=month("务工"))])
    shown = await db.scalar(select(MemberEmployment))
    assert (shown.status, shown.source) == ("务工", "feed")
    assert await db.scalar(select(func.count()).select_from(FeedConflict)) == 1


async def test_a_departed_member_is_gone_from_lists_and_reads(
    app, settings, db, client, make_user, auth
):
    from app.auth.models import Role

    await _apply(app, settings, [record("M1"), record("M2", relation="之子")])
    await _apply(app, settings, [record("M2", relation="之子", deleted=True)])
    headers = auth(await make_user(Role.coordinator, [VILLAGE_A]))
    departed = await db.scalar(select(Member.id).where(Member.member_no == "M2"))
    home = await db.scalar(select(Household.id))

    detail = (await client.get(f"/api/v1/households/{home}", headers=headers)).json()
    assert [m["member_no"] for m in detail["members"]] == ["M1"]
    listed = (await client.get("/api/v1/households", headers=headers)).json()["items"]
    assert listed[0]["member_count"] == 1
    gone = await client.get(f"/api/v1/members/{departed}", headers=headers)
    assert gone.status_code == 404
