"""Reconciliation: items listed in scope, resolved by managers (each resolution writing the month
through the one writer, audited), a county's precedence setting, and the precedence rule."""

from __future__ import annotations

import itertools
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import insert, select, text

from app.audit.models import AuditEvent
from app.auth.models import Role
from app.feed.models import FeedConflict
from app.feed.precedence import setting_entity_id
from app.feed.values import Precedence
from app.households.models import MemberEmployment
from app.policy.reconciliation import Side, working_copy_side_sql
from app.regions.models import Region
from tests.households.factories import PersonSpec, make_household

VILLAGE = "450226100201"
SIBLING_VILLAGE = "450226100202"  # same township
TOWNSHIP = "450226100000"
OTHER_TOWNSHIP = "450226101000"
OTHER_TOWNSHIP_VILLAGE = "450226101201"
COUNTY = "450226000000"
OTHER_COUNTY = "450224000000"
OTHER_COUNTY_TOWNSHIP = "450224100000"
OTHER_COUNTY_VILLAGE = "450224100201"
PERIOD = "2026-10"
URL = "/api/v1/feed/conflicts"

OURS_AT = datetime(2026, 10, 20, 9, 30, tzinfo=UTC)
THEIRS_AT = datetime(2026, 10, 18, 16, 0, tzinfo=UTC)
OURS = {
    "status": "务工",
    "region": "县内",
    "channel": "就业帮扶车间",
    "employer": "大寨村帮扶车间",
    "months": 3,
    "income": "4500.00",
    "source": "visit",
    "observed_at": OURS_AT.isoformat(),
}
THEIRS = {
    "status": "未务工",
    "region": None,
    "channel": None,
    "employer": None,
    "months": 0,
    "income": None,
    "source": "feed",
    "observed_at": THEIRS_AT.isoformat(),
}
_serial = itertools.count(1)


@pytest.fixture
async def other_county(db) -> None:
    await db.execute(
        insert(Region),
        [
            {
                "code": OTHER_COUNTY,
                "name": "融安县",
                "level": "county",
                "parent_code": "450200000000",
            },
            {
                "code": OTHER_COUNTY_TOWNSHIP,
                "name": "长安镇",
                "level": "township",
                "parent_code": OTHER_COUNTY,
            },
            {
                "code": OTHER_COUNTY_VILLAGE,
                "name": "大巷村",
                "level": "village",
                "parent_code": OTHER_COUNTY_TOWNSHIP,
            },
        ],
    )
    await db.commit()


@pytest.fixture
async def callers(make_user, auth, other_county) -> dict[str, dict[str, str]]:
    return {
        "coordinator": auth(await make_user(Role.coordinator, [VILLAGE])),
        "sibling coordinator": auth(await make_user(Role.coordinator, [SIBLING_VILLAGE])),
        "township": auth(await make_user(Role.manager, [TOWNSHIP])),
        "other township": auth(await make_user(Role.manager, [OTHER_TOWNSHIP])),
        "county": auth(await make_user(Role.manager, [COUNTY])),
        "other county": auth(await make_user(Role.manager, [OTHER_COUNTY])),
        "admin": auth(await make_user(Role.admin)),
        "villager": auth(await make_user(Role.villager)),
    }


async def _member(db, settings, village: str = VILLAGE) -> Any:
    _, [member] = await make_household(db, settings, village, [PersonSpec("韦强")])
    return member


async def _conflict(db, village: str, *, member=None, **values: Any) -> uuid.UUID:
    """A row as the apply pipeline writes it: an employment item unless told otherwise."""
    row: dict[str, Any] = {
        "kind": "employment",
        "member_no": member.member_no if member else f"M{next(_serial):06d}",
        "member_id": member.id if member else None,
        "village_code": village,
        "period": PERIOD,
        "ours": OURS,
        "theirs": THEIRS,
    }
    row.update(values)
    conflict_id = await db.scalar(insert(FeedConflict).values(**row).returning(FeedConflict.id))
    await db.commit()
    return conflict_id


def _id_item(member_no: str, **extra: Any) -> dict[str, Any]:
    return {
        "kind": "id_number_invalid",
        "period": None,
        "ours": None,
        "theirs": {
            "member_no": member_no,
            "household_no": "H-1",
            "name": "韦梅",
            "id_number": "450226********123X",
            "village_code": VILLAGE,
            **extra,
        },
    }


async def _our_month(db, member_id: uuid.UUID) -> None:
    """The month as a coordinator's visit recorded it."""
    await db.execute(
        insert(MemberEmployment).values(
            member_id=member_id,
            period=PERIOD,
            status="务工",
            work_region="县内",
            channel="就业帮扶车间",
            employer="大寨村帮扶车间",
            months=3,
            income=Decimal("4500.00"),
            source="visit",
            observed_at=OURS_AT,
        )
    )
    await db.commit()


async def _ids(client, headers, **params: Any) -> set[str]:
    response = await client.get(URL, params=params, headers=headers)
    assert response.status_code == 200, response.text
    return {item["id"] for item in response.json()["items"]}


# Listing ------------------------------------------------------------------------------------


async def test_each_caller_lists_the_items_of_their_own_region(client, db, settings, callers):
    member = await _member(db, settings)
    here = await _conflict(db, VILLAGE, member=member)
    sibling = await _conflict(db, SIBLING_VILLAGE, **_id_item("S-1"))
    township = await _conflict(db, OTHER_TOWNSHIP_VILLAGE)
    elsewhere = await _conflict(db, OTHER_COUNTY_VILLAGE)
    staff = {name: headers for name, headers in callers.items() if name != "villager"}
    seen = {name: await _ids(client, headers) for name, headers in staff.items()}
    assert seen["coordinator"] == {str(here)}
    assert seen["sibling coordinator"] == {str(sibling)}
    assert seen["township"] == {str(here), str(sibling)}
    assert seen["other township"] == {str(township)}
    assert seen["county"] == {str(here), str(sibling), str(township)}
    assert seen["other county"] == {str(elsewhere)}
    assert seen["admin"] == {str(here), str(sibling), str(township), str(elsewhere)}
    villager = await client.get(URL, headers=callers["villager"])
    assert villager.status_code == 403


async def test_an_item_shows_both_sides_with_member_and_household(client, db, settings, callers):
    member = await _member(db, settings)
    conflict_id = await _conflict(db, VILLAGE, member=member)
    response = await client.get(f"{URL}/{conflict_id}", headers=callers["coordinator"])
    assert response.status_code == 200, response.text
    item = response.json()
    assert item["kind"] == "employment" and item["status"] == "open"
    assert item["period"] == PERIOD and item["village_code"] == VILLAGE
    assert item["member"] == {"id": str(member.id), "member_no": member.member_no, "name": "韦强"}
    assert item["household"]["id"] == str(member.household_id)
    assert item["household"]["household_no"]
    assert item["ours"]["status"] == "务工" and item["ours"]["source"] == "visit"
    assert item["ours"]["employer"] == "大寨村帮扶车间"
    assert datetime.fromisoformat(item["ours"]["observed_at"]) == OURS_AT
    assert item["theirs"]["status"] == "未务工" and item["theirs"]["source"] == "feed"
    assert datetime.fromisoformat(item["theirs"]["observed_at"]) == THEIRS_AT
    assert item["feed_record"] is None
    assert item["resolution"] is None and item["resolved_value"] is None
    listed = (await client.get(URL, headers=callers["coordinator"])).json()["items"]
    assert listed == [item]


async def test_an_id_number_item_shows_the_feed_record_masked(client, db, callers):
    unmasked = "450226198506140123"
    conflict_id = await _conflict(
        db,
        VILLAGE,
        **{
            **_id_item("S-2", id_number=unmasked, shared_with=["S-3"]),
            "kind": "id_number_shared",
        },
    )
    response = await client.get(f"{URL}/{conflict_id}", headers=callers["township"])
    item = response.json()
    assert response.status_code == 200, response.text
    assert item["member"] is None and item["household"] is None
    assert item["ours"] is None and item["theirs"] is None
    assert item["feed_record"]["member_no"] == "S-2"
    assert item["feed_record"]["id_number"] == "450226********0123"
    assert item["feed_record"]["shared_with"] == ["S-3"]
    assert unmasked not in response.text


async def test_an_item_outside_the_callers_region_is_not_found(client, db, settings, callers):
    conflict_id = await _conflict(db, VILLAGE, member=await _member(db, settings))
    for name in ("sibling coordinator", "other township", "other county"):
        response = await client.get(f"{URL}/{conflict_id}", headers=callers[name])
        assert response.status_code == 404, (name, response.text)
        assert response.json()["code"] == "conflict_not_found"
        assert str(conflict_id) not in response.text
    missing = await client.get(f"{URL}/{uuid.uuid4()}", headers=callers["county"])
    assert missing.status_code == 404
    assert missing.json()["code"] == "conflict_not_found"


async def test_filters(client, db, settings, callers):
    member = await _member(db, settings)
    october = await _conflict(db, VILLAGE, member=member)
    november = await _conflict(db, VILLAGE, member=member, period="2026-11")
    invalid = await _conflict(db, SIBLING_VILLAGE, **_id_item("S-4"))
    done = await _conflict(
        db,
        VILLAGE,
        **_id_item("S-5"),
        status="resolved",
        resolution="dismissed",
        resolved_at=datetime.now(UTC),
    )
    county = callers["county"]
    assert await _ids(client, county, status="open") == {str(october), str(november), str(invalid)}
    assert await _ids(client, county, status="resolved") == {str(done)}
    assert await _ids(client, county, kind="employment") == {str(october), str(november)}
    assert await _ids(client, county, kind="id_number_invalid") == {str(invalid), str(done)}
    assert await _ids(client, county, period="2026-11") == {str(november)}
    assert await _ids(client, county, region=SIBLING_VILLAGE) == {str(invalid)}
    assert await _ids(client, county, region=TOWNSHIP, kind="employment", period=PERIOD) == {
        str(october)
    }
    # A region outside the caller's is no way around the scope.
    assert await _ids(client, callers["coordinator"], region=SIBLING_VILLAGE) == set()
    for params in ({"status": "closed"}, {"kind": "x"}, {"period": "2026-13"}, {"region": "45"}):
        response = await client.get(URL, params=params, headers=county)
        assert response.status_code == 422, params


async def test_pages_walk_every_item_once_newest_first(client, db, callers):
    created = []
    for _ in range(5):
        created.append(str(await _conflict(db, VILLAGE)))
        # Distinct creation times (one transaction each already); make the order certain.
        await db.execute(text("SELECT pg_sleep(0.002)"))
    seen: list[str] = []
    cursor = None
    for _ in range(10):
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = (await client.get(URL, params=params, headers=callers["county"])).json()
        seen += [item["id"] for item in page["items"]]
        assert len(page["items"]) <= 2
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == list(reversed(created))
    bad = await client.get(URL, params={"cursor": "%%%"}, headers=callers["county"])
    assert bad.status_code == 400
    assert bad.json()["code"] == "invalid_cursor"


# Resolving ----------------------------------------------------------------------------------


async def _resolve(client, headers, conflict_id, **body: Any) -> Any:
    return await client.post(f"{URL}/{conflict_id}/resolution", json=body, headers=headers)


async def _month(db, member_id) -> MemberEmployment:
    row = await db.get(MemberEmployment, (member_id, PERIOD), populate_existing=True)
    assert row is not None
    return row


async def _audit(db, entity: str, entity_id) -> list[AuditEvent]:
    return list(
        (
            await db.scalars(
                select(AuditEvent)
                .where(AuditEvent.entity == entity, AuditEvent.entity_id == entity_id)
                .order_by(AuditEvent.occurred_at)
            )
        ).all()
    )


async def _open_employment_item(db, settings) -> tuple[Any, uuid.UUID]:
    member = await _member(db, settings)
    await _our_month(db, member.id)
    return member, await _conflict(db, VILLAGE, member=member)


async def test_taking_theirs_records_the_feeds_month(client, db, settings, callers, make_user):
    member, conflict_id = await _open_employment_item(db, settings)
    response = await _resolve(
        client, callers["township"], conflict_id, resolution="theirs", note="电话核实：已返乡"
    )
    assert response.status_code == 200, response.text
    item = response.json()
    assert item["status"] == "resolved" and item["resolution"] == "theirs"
    assert item["resolved_by"] is not None and item["resolved_at"] is not None
    month = await _month(db, member.id)
    assert (month.status, month.work_region, month.channel, month.employer) == (
        "未务工",
        None,
        None,
        None,
    )
    assert (month.months, month.income) == (0, None)
    assert month.source == "feed" and month.observed_at == THEIRS_AT
    assert item["resolved_value"]["source"] == "feed"
    assert item["resolved_value"]["status"] == "未务工"
    # The month's change, audited by the writer, and the item's own.
    [changed] = await _audit(db, "member_employment", member.id)
    assert changed.action == "update" and changed.actor_role == "manager"
    assert changed.changes["status"] == {"old": "务工", "new": "未务工"}
    assert changed.changes["source"] == {"old": "visit", "new": "feed"}
    assert changed.region_code == VILLAGE
    [resolved] = await _audit(db, "feed_conflict", conflict_id)
    assert resolved.action == "resolve" and resolved.reason == "电话核实：已返乡"
    assert resolved.actor_id == uuid.UUID(item["resolved_by"])
    assert resolved.changes == {
        "status": {"old": "open", "new": "resolved"},
        "resolution": {"old": None, "new": "theirs"},
    }
    assert resolved.region_code == VILLAGE


async def test_keeping_ours_records_our_month_again_as_manual_now(client, db, settings, callers):
    member, conflict_id = await _open_employment_item(db, settings)
    # The working copy showed the feed's month meanwhile (precedence `theirs`).
    await db.execute(
        text(
            "UPDATE member_employment SET status = '未务工', work_region = NULL, channel = NULL,"
            " employer = NULL, months = 0, income = NULL, source = 'feed', observed_at = :at"
        ),
        {"at": THEIRS_AT},
    )
    await db.commit()
    before = datetime.now(UTC)
    response = await _resolve(client, callers["county"], conflict_id, resolution="ours")
    assert response.status_code == 200, response.text
    month = await _month(db, member.id)
    assert (month.status, month.work_region, month.channel, month.employer) == (
        "务工",
        "县内",
        "就业帮扶车间",
        "大寨村帮扶车间",
    )
    assert (month.months, month.income) == (3, Decimal("4500.00"))
    # Manual and observed now: it stands, and push-back (visit and manual months) sends it.
    assert month.source == "manual"
    assert month.observed_at >= before - timedelta(seconds=1)
    assert response.json()["resolved_value"]["source"] == "manual"
    [changed] = await _audit(db, "member_employment", member.id)
    assert changed.changes["source"] == {"old": "feed", "new": "manual"}
    [resolved] = await _audit(db, "feed_conflict", conflict_id)
    assert resolved.changes["resolution"] == {"old": None, "new": "ours"}


async def test_entering_a_value_records_it_as_manual(client, db, settings, callers):
    member, conflict_id = await _open_employment_item(db, settings)
    value = {
        "status": "务工",
        "region": "省外",
        "channel": "外出务工",
        "employer": "广东某电子厂",
        "months": 2,
        "income": "6000.50",
    }
    response = await _resolve(
        client, callers["admin"], conflict_id, resolution="value", value=value
    )
    assert response.status_code == 200, response.text
    month = await _month(db, member.id)
    assert (month.status, month.work_region, month.channel, month.employer) == (
        "务工",
        "省外",
        "外出务工",
        "广东某电子厂",
    )
    assert (month.months, month.income, month.source) == (2, Decimal("6000.50"), "manual")
    resolved_value = response.json()["resolved_value"]
    assert resolved_value["employer"] == "广东某电子厂" and resolved_value["source"] == "manual"
    stored = await db.get(FeedConflict, conflict_id, populate_existing=True)
    assert stored is not None and stored.resolved_value == resolved_value
    assert stored.resolved_by is not None
    [resolved] = await _audit(db, "feed_conflict", conflict_id)
    assert resolved.actor_role == "admin"


async def test_a_value_with_a_new_month_creates_it(client, db, settings, callers):
    """An item whose month we never recorded (ours from a visit not yet written) still takes a
    value: the writer creates the month."""
    member = await _member(db, settings)
    conflict_id = await _conflict(db, VILLAGE, member=member)
    response = await _resolve(
        client, callers["county"], conflict_id, resolution="value", value={"status": "未务工"}
    )
    assert response.status_code == 200, response.text
    month = await _month(db, member.id)
    assert (month.status, month.source) == ("未务工", "manual")
    [created] = await _audit(db, "member_employment", member.id)
    assert created.action == "create"


@pytest.mark.parametrize("kind", ["id_number_invalid", "id_number_shared"])
async def test_an_id_number_item_is_dismissed_writing_nothing(client, db, settings, callers, kind):
    member = await _member(db, settings)
    conflict_id = await _conflict(db, VILLAGE, member=member, **{**_id_item("S-6"), "kind": kind})
    response = await _resolve(
        client, callers["township"], conflict_id, resolution="dismissed", note="已核对户籍"
    )
    assert response.status_code == 200, response.text
    item = response.json()
    assert item["status"] == "resolved" and item["resolution"] == "dismissed"
    assert item["resolved_value"] is None
    assert (
        await db.scalar(select(MemberEmployment).where(MemberEmployment.member_id == member.id))
        is None
    )
    assert await _audit(db, "member_employment", member.id) == []
    [resolved] = await _audit(db, "feed_conflict", conflict_id)
    assert resolved.reason == "已核对户籍"


async def test_a_resolved_item_cannot_be_resolved_again(client, db, settings, callers):
    member, conflict_id = await _open_employment_item(db, settings)
    first = await _resolve(client, callers["county"], conflict_id, resolution="theirs")
    assert first.status_code == 200, first.text
    second = await _resolve(client, callers["township"], conflict_id, resolution="ours")
    assert second.status_code == 409, second.text
    assert second.headers["content-type"].startswith("application/problem+json")
    assert second.json()["code"] == "conflict_resolved"
    assert (await _month(db, member.id)).source == "feed"
    assert len(await _audit(db, "feed_conflict", conflict_id)) == 1


@pytest.mark.parametrize(
    ("kind", "body"),
    [
        ("employment", {"resolution": "value"}),  # no value
        ("employment", {"resolution": "ours", "value": {"status": "未务工"}}),  # value unasked
        ("employment", {"resolution": "dismissed"}),
        ("id_number_invalid", {"resolution": "ours"}),
        ("id_number_shared", {"resolution": "theirs"}),
        ("id_number_invalid", {"resolution": "value", "value": {"status": "未务工"}}),
        ("employment", {"resolution": "value", "value": {"status": "务工"}}),  # working: where?
        ("employment", {"resolution": "later"}),
        ("employment", {"resolution": "ours", "statsu": "x"}),
    ],
)
async def test_a_resolution_that_does_not_fit_answers_422(
    client, db, settings, callers, kind, body
):
    member = await _member(db, settings)
    values = {} if kind == "employment" else {**_id_item("S-7"), "kind": kind}
    conflict_id = await _conflict(db, VILLAGE, member=member, **values)
    response = await client.post(
        f"{URL}/{conflict_id}/resolution", json=body, headers=callers["county"]
    )
    assert response.status_code == 422, response.text
    assert response.json()["code"] == "validation_failed"
    stored = await db.get(FeedConflict, conflict_id, populate_existing=True)
    assert stored is not None and stored.status == "open"
    assert await _audit(db, "feed_conflict", conflict_id) == []


async def test_only_managers_resolve_and_only_in_their_region(client, db, settings, callers):
    _, conflict_id = await _open_employment_item(db, settings)
    for name in ("coordinator", "villager"):
        response = await _resolve(client, callers[name], conflict_id, resolution="theirs")
        assert response.status_code == 403, (name, response.text)
    for name in ("other township", "other county"):
        response = await _resolve(client, callers[name], conflict_id, resolution="theirs")
        assert response.status_code == 404, (name, response.text)
        assert response.json()["code"] == "conflict_not_found"
    stored = await db.get(FeedConflict, conflict_id, populate_existing=True)
    assert stored is not None and stored.status == "open"


# The county's precedence ----------------------------------------------------------------------

SETTINGS_URL = "/api/v1/feed/settings"


async def test_a_county_manager_reads_and_sets_the_precedence(client, db, callers):
    county = callers["county"]
    default = await client.get(SETTINGS_URL, headers=county)
    assert default.status_code == 200, default.text
    assert default.json() == {
        "county_code": COUNTY,
        "precedence": "ours",
        "updated_by": None,
        "updated_at": None,
    }
    put = await client.put(SETTINGS_URL, json={"precedence": "newer"}, headers=county)
    assert put.status_code == 200, put.text
    assert put.json()["precedence"] == "newer" and put.json()["updated_at"] is not None
    read = await client.get(SETTINGS_URL, headers=county)
    assert read.json() == put.json()
    [created] = await _audit(db, "feed_setting", setting_entity_id(COUNTY))
    assert created.action == "create" and created.region_code == COUNTY
    assert created.changes == {"precedence": {"old": None, "new": "newer"}}
    assert str(created.actor_id) == put.json()["updated_by"]
    # The same rule again writes nothing; another is an update.
    again = await client.put(SETTINGS_URL, json={"precedence": "newer"}, headers=county)
    assert again.status_code == 200 and again.json() == put.json()
    changed = await client.put(SETTINGS_URL, json={"precedence": "theirs"}, headers=county)
    assert changed.json()["precedence"] == "theirs"
    events = await _audit(db, "feed_setting", setting_entity_id(COUNTY))
    assert [e.changes["precedence"] for e in events] == [
        {"old": None, "new": "newer"},
        {"old": "newer", "new": "theirs"},
    ]
    assert events[1].action == "update"


async def test_who_reads_and_sets_which_county(client, callers):
    def get(name: str, **params: str) -> Any:
        return client.get(SETTINGS_URL, params=params, headers=callers[name])

    def put(name: str, **params: str) -> Any:
        return client.put(
            SETTINGS_URL, params=params, json={"precedence": "theirs"}, headers=callers[name]
        )

    # A township manager reads their county's rule but may not change it.
    assert (await get("township")).json()["county_code"] == COUNTY
    assert (await get("township", county_code=COUNTY)).status_code == 200
    refused = await put("township")
    assert refused.status_code == 403 and refused.json()["code"] == "not_county_level"
    # Staff below managers and villagers: their role.
    for name in ("coordinator", "villager"):
        assert (await get(name)).status_code == 403
        assert (await put(name)).status_code == 403
    # Another county's: as if it did not exist.
    for name in ("county", "township"):
        response = await put(name, county_code=OTHER_COUNTY)
        assert response.status_code == 404 and response.json()["code"] == "region_not_found"
    assert (await get("other county", county_code=COUNTY)).status_code == 404
    # An admin names the county; not a township, not an unknown one.
    assert (await get("admin")).status_code == 422
    assert (await put("admin")).status_code == 422
    assert (await put("admin", county_code=TOWNSHIP)).status_code == 422
    assert (await put("admin", county_code="450299000000")).status_code == 404
    done = await put("admin", county_code=OTHER_COUNTY)
    assert done.status_code == 200 and done.json()["county_code"] == OTHER_COUNTY
    assert (await get("other county")).json()["precedence"] == "theirs"
    assert (await get("county")).json()["precedence"] == "ours"
    bad = await client.put(SETTINGS_URL, json={"precedence": "older"}, headers=callers["county"])
    assert bad.status_code == 422


# The rule -------------------------------------------------------------------------------------

EARLY = datetime(2026, 10, 1, 8, 0, tzinfo=UTC)
LATE = EARLY + timedelta(seconds=1)
CASES = [
    # precedence, ours observed, theirs observed, the side shown
    (None, EARLY, LATE, Side.ours),
    (Precedence.ours, EARLY, LATE, Side.ours),
    (Precedence.ours, LATE, EARLY, Side.ours),
    (Precedence.theirs, LATE, EARLY, Side.theirs),
    (Precedence.theirs, EARLY, LATE, Side.theirs),
    (Precedence.theirs, None, None, Side.theirs),
    (Precedence.newer, EARLY, LATE, Side.theirs),
    (Precedence.newer, LATE, EARLY, Side.ours),
    (Precedence.newer, EARLY, EARLY, Side.ours),  # a tie keeps ours
    (Precedence.newer, None, LATE, Side.ours),  # an unknown time keeps ours
    (Precedence.newer, EARLY, None, Side.ours),
]


async def test_the_working_copy_shows_the_side_the_rule_says(db):
    """Every precedence and ordering of the two times, through the one (SQL) form of the rule."""
    expression = working_copy_side_sql("c.precedence", "c.ours_at", "c.theirs_at")
    rows = [
        {"i": i, "p": p.value if p else None, "o": o, "t": t}
        for i, (p, o, t, _) in enumerate(CASES)
    ]
    values = ", ".join(
        f"(CAST(:i{n} AS int), CAST(:p{n} AS text),"
        f" CAST(:o{n} AS timestamptz), CAST(:t{n} AS timestamptz))"
        for n in range(len(rows))
    )
    parameters = {f"{key}{n}": row[key] for n, row in enumerate(rows) for key in row}
    result = await db.execute(
        text(
            f"SELECT c.i, {expression} FROM (VALUES {values})"  # noqa: S608
            " AS c (i, precedence, ours_at, theirs_at) ORDER BY c.i"
        ),
        parameters,
    )
    assert [side for _, side in result.all()] == [case[3].value for case in CASES]


async def test_keeping_ours_needs_a_month_of_ours(client, db, settings, callers):
    """An item the feed raised against a month we never recorded: only theirs or a value."""
    member = await _member(db, settings)
    conflict_id = await _conflict(db, VILLAGE, member=member, ours=None)
    refused = await _resolve(client, callers["county"], conflict_id, resolution="ours")
    assert refused.status_code == 422, refused.text
    assert refused.json()["errors"][0]["field"] == "body.resolution"
    taken = await _resolve(client, callers["county"], conflict_id, resolution="theirs")
    assert taken.status_code == 200, taken.text
    assert (await _month(db, member.id)).source == "feed"
