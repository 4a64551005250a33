"""Data checks (`app.policy.data_checks`, `app.feed.checks`): each rule at its boundary, the
latest month, exemptions, refreshes that keep what still holds, members who left, scope, and a
refresh's statements not growing with the rows."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import pytest
from sqlalchemy import select, update

from app.audit.models import AuditEvent
from app.auth.models import Role
from app.core.caller import Principal
from app.core.crypto import PiiCipher
from app.core.db import session_driver_connection
from app.feed.checks import refresh_findings, village_range
from app.feed.checks_models import DataCheckExemption, DataCheckFinding
from app.households import writer
from app.households.models import Household, Member
from app.policy.data_checks import CHECKS, CheckCode, minor_finding, phone_finding
from tests.households.factories import PersonSpec, make_household, synthetic_id_number

VILLAGE = "450226100201"  # 大寨村, 古宜镇
NEXT_VILLAGE = "450226100202"  # 龙吉村, the same township
OTHER_TOWNSHIP_VILLAGE = "450226101201"  # 斗江村, 斗江镇
TOWNSHIP = "450226100000"
OTHER_TOWNSHIP = "450226101000"
COUNTY = "450226000000"
PERIOD = "2026-10"
ACTOR = Principal.system("tests.feed.checks").actor
C = CheckCode


async def employ(
    db: Any,
    member: Member,
    *,
    status: str = "务工",
    region: str | None = "县内",
    channel: str | None = "灵活就业",
    employer: str | None = None,
    months: int = 3,
    period: str = PERIOD,
) -> None:
    """A month of employment, written by the one writer, committed."""
    row = writer.EmploymentWrite(
        actor=ACTOR,
        member_id=member.id,
        period=period,
        status=status,
        work_region=region,
        channel=channel,
        employer=employer,
        months=months,
        income=None,
        source="feed",
    )
    await writer.write_employment(await session_driver_connection(db), [row])
    await db.commit()


async def refresh(db: Any, settings: Any, region: str | None = None) -> dict[str, int]:
    counts = await refresh_findings(db, region, cipher=PiiCipher.from_settings(settings))
    await db.commit()
    return counts


async def found(db: Any, rule: CheckCode) -> set[tuple[uuid.UUID, uuid.UUID | None]]:
    rows = await db.execute(
        select(DataCheckFinding.household_id, DataCheckFinding.member_id).where(
            DataCheckFinding.rule == rule
        )
    )
    return {(h, m) for h, m in rows.all()}


async def one(
    db: Any, settings: Any, person: PersonSpec, **kwargs: Any
) -> tuple[Household, Member]:
    household, (member,) = await make_household(db, settings, VILLAGE, [person], **kwargs)
    return household, member


# --- Each rule at its boundary ------------------------------------------------------------------

# (rule, employment of a 普通劳动力 head, fires?)
EMPLOYMENT_CASES = [
    (C.working_without_workplace, {"region": None}, True),
    (C.working_without_workplace, {"region": "县内"}, False),
    (C.working_without_workplace, {"channel": "公益性岗位", "employer": "  "}, True),
    (C.working_without_workplace, {"channel": "就业帮扶车间", "employer": None}, True),
    (C.working_without_workplace, {"channel": "公益性岗位", "employer": "村保洁员岗"}, False),
    (C.working_without_workplace, {"channel": "外出务工", "region": "省外"}, False),
    (C.working_without_workplace, {"status": "未务工", "region": None, "channel": None}, False),
    (C.working_without_months, {"months": 0}, True),
    (C.working_without_months, {"months": 1}, False),
    (C.working_without_months, {"status": "未务工", "region": None, "months": 0}, False),
    (C.local_post_outside_county, {"region": "省内县外", "channel": "就业帮扶车间"}, True),
    (C.local_post_outside_county, {"region": "省外", "channel": "公益性岗位"}, True),
    (C.local_post_outside_county, {"region": "县内", "channel": "公益性岗位"}, False),
    (C.local_post_outside_county, {"region": "省外", "channel": "外出务工"}, False),
]


@pytest.mark.parametrize(("rule", "employment", "fires"), EMPLOYMENT_CASES)
async def test_employment_rules_at_their_boundary(db, settings, rule, employment, fires):
    kwargs = {"employer": "某厂", **employment}
    household, member = await one(db, settings, PersonSpec("韦强"))
    await employ(db, member, **kwargs)
    await refresh(db, settings)
    assert await found(db, rule) == ({(household.id, member.id)} if fires else set())


@pytest.mark.parametrize(
    ("labour_type", "status", "fires"),
    [
        ("无劳动力", "务工", True),
        ("丧失劳动力", "务工", True),
        ("弱劳动力或半劳动力", "务工", False),
        ("无劳动力", "未务工", False),
    ],
)
async def test_working_without_labour(db, settings, labour_type, status, fires):
    household, member = await one(db, settings, PersonSpec("韦强", labour_type=labour_type))
    if status == "务工":
        await employ(db, member, employer="某厂")
    else:
        await employ(db, member, status=status, region=None, channel=None)
    await refresh(db, settings)
    expected = {(household.id, member.id)} if fires else set()
    assert await found(db, C.working_without_labour) == expected


@pytest.mark.parametrize(
    ("relations", "fires"),
    [(["配偶", "之子"], True), (["户主", "户主"], True), (["户主", "配偶"], False)],
)
async def test_exactly_one_head(db, settings, relations, fires):
    household, _ = await make_household(
        db, settings, VILLAGE, [PersonSpec(f"韦{i}", relation=r) for i, r in enumerate(relations)]
    )
    counts = await refresh(db, settings)
    assert await found(db, C.household_head_count) == ({(household.id, None)} if fires else set())
    assert counts[C.household_head_count] == int(fires)
    if fires:
        details = await db.scalar(select(DataCheckFinding.details))
        assert details == {"heads": relations.count("户主"), "members": 2}


@pytest.mark.parametrize(
    ("phone", "fires"),
    [
        ("13800138000", False),
        ("1380013800", True),  # 10 digits
        ("138001380001", True),  # 12
        ("138 0013 800", True),
        ("１３８００１３８０００", True),  # full-width digits are not digits here
        (None, False),
    ],
)
async def test_phone_of_11_digits(db, settings, phone, fires):
    household, member = await one(db, settings, PersonSpec("韦强", phone=phone))
    await refresh(db, settings)
    assert await found(db, C.phone_not_11_digits) == (
        {(household.id, member.id)} if fires else set()
    )
    if fires:
        details = await db.scalar(select(DataCheckFinding.details))
        assert details == {"length": len(phone)}  # the number itself is never kept


@pytest.mark.parametrize(
    ("birth", "channel", "fires"),
    [
        ("20101002", "公益性岗位", True),  # 15 on 2026-10-01
        ("20101001", "公益性岗位", False),  # 16 that day
        ("20101002", "灵活就业", False),  # not a welfare post
    ],
)
async def test_under_16_on_a_welfare_post(db, settings, birth, channel, fires):
    person = PersonSpec("韦小", relation="户主", id_number=synthetic_id_number(birth))
    _, member = await one(db, settings, person)
    await employ(db, member, channel=channel, employer="村保洁员岗")
    await refresh(db, settings)
    rows = (
        (
            await db.execute(
                select(DataCheckFinding).where(DataCheckFinding.rule == C.minor_on_welfare_post)
            )
        )
        .scalars()
        .all()
    )
    assert [(r.member_id, r.period, r.details) for r in rows] == (
        [(member.id, PERIOD, {"age": 15})] if fires else []
    )


@pytest.mark.parametrize(
    ("labour_types", "risk_types", "fires"),
    [
        (["丧失劳动力", "无劳动力"], ["因务工就业不稳"], True),
        (["丧失劳动力", "弱劳动力或半劳动力"], ["因务工就业不稳"], False),
        (["丧失劳动力", "无劳动力"], ["因病", "缺劳动力"], False),
    ],
)
async def test_unstable_work_without_labour(db, settings, labour_types, risk_types, fires):
    people = [
        PersonSpec(f"韦{i}", relation="户主" if i == 0 else "配偶", labour_type=t)
        for i, t in enumerate(labour_types)
    ]
    household, _ = await make_household(db, settings, VILLAGE, people)
    await db.execute(
        update(Household).where(Household.id == household.id).values(risk_types=risk_types)
    )
    await db.commit()
    await refresh(db, settings)
    assert await found(db, C.unstable_work_without_labour) == (
        {(household.id, None)} if fires else set()
    )


def test_personal_tests_at_their_boundary():
    assert phone_finding("13800138000", None) is None
    assert phone_finding("1380013800", None) == {"length": 10}
    assert minor_finding("450226201010021234", "2026-10") == {"age": 15}
    assert minor_finding("450226201010011234", "2026-10") is None
    # A birth date that cannot be read is left to the ID-number checks.
    assert minor_finding("450226201013321234", "2026-10") is None
    assert minor_finding("4502262010100", "2026-10") is None


def test_every_rule_has_a_code_title_and_explanation():
    assert [check.code for check in CHECKS] == list(CheckCode)
    for check in CHECKS:
        assert check.title and check.explanation
        assert (check.personal is None) == (check.test is None)


def test_region_codes_and_prefixes():
    assert village_range(None) == ("000000000000", "999999999999")
    assert village_range(COUNTY) == ("450226000000", "450226999999")
    assert village_range(VILLAGE) == (VILLAGE, VILLAGE)
    assert village_range("4502") == ("450200000000", "450299999999")
    with pytest.raises(ValueError):
        village_range("45x2")


# --- Which month, members who left ------------------------------------------------------------


async def test_employment_rules_look_at_each_members_latest_month(db, settings):
    _, member = await one(db, settings, PersonSpec("韦强"))
    await employ(db, member, months=0, period="2026-09", employer="某厂")
    await employ(db, member, months=4, period="2026-10", employer="某厂")
    await refresh(db, settings)
    assert await found(db, C.working_without_months) == set()
    await employ(db, member, months=0, period="2026-11", employer="某厂")
    await refresh(db, settings)
    finding = await db.scalar(select(DataCheckFinding))
    assert (finding.rule, finding.period, finding.details) == (
        C.working_without_months,
        "2026-11",
        {"months": 0},
    )


async def test_members_who_left_are_ignored(db, settings):
    household, (head, spouse) = await make_household(
        db,
        settings,
        VILLAGE,
        [PersonSpec("韦强", phone="123"), PersonSpec("韦梅", relation="户主", phone="456")],
    )
    await employ(db, spouse, months=0, employer="某厂")
    await refresh(db, settings)
    assert await found(db, C.household_head_count) == {(household.id, None)}
    assert len(await found(db, C.phone_not_11_digits)) == 2
    assert await found(db, C.working_without_months) == {(household.id, spouse.id)}

    await db.execute(
        update(Member).where(Member.id == spouse.id).values(deleted_at=datetime.now().astimezone())
    )
    await db.commit()
    counts = await refresh(db, settings)
    assert await found(db, C.household_head_count) == set()
    assert await found(db, C.phone_not_11_digits) == {(household.id, head.id)}
    assert await found(db, C.working_without_months) == set()
    assert counts[C.phone_not_11_digits] == 1


async def test_a_household_whose_labour_left_has_none(db, settings):
    household, (_, worker) = await make_household(
        db,
        settings,
        VILLAGE,
        [
            PersonSpec("韦强", labour_type="丧失劳动力"),
            PersonSpec("韦梅", relation="之女", labour_type="普通劳动力"),
        ],
    )
    await db.execute(
        update(Household).where(Household.id == household.id).values(risk_types=["因务工就业不稳"])
    )
    await db.commit()
    await refresh(db, settings)
    assert await found(db, C.unstable_work_without_labour) == set()
    await db.execute(
        update(Member).where(Member.id == worker.id).values(deleted_at=datetime.now().astimezone())
    )
    await db.commit()
    await refresh(db, settings)
    assert await found(db, C.unstable_work_without_labour) == {(household.id, None)}


# --- Refreshing ---------------------------------------------------------------------------------


async def test_a_refresh_keeps_what_still_holds_and_removes_what_no_longer_does(db, settings):
    _, member = await one(db, settings, PersonSpec("韦强"))
    await employ(db, member, months=0, region=None)
    await refresh(db, settings)
    first = {
        f.rule: (f.id, f.first_found_at, f.last_found_at)
        for f in (await db.scalars(select(DataCheckFinding))).all()
    }
    assert set(first) == {C.working_without_workplace, C.working_without_months}

    await employ(db, member, months=0, region="县内")  # the place is fixed, months still 0
    db.expire_all()
    await refresh(db, settings)
    second = {f.rule: f for f in (await db.scalars(select(DataCheckFinding))).all()}
    assert set(second) == {C.working_without_months}
    kept = second[C.working_without_months]
    finding_id, first_found_at, last_found_at = first[C.working_without_months]
    assert kept.id == finding_id
    assert kept.first_found_at == first_found_at
    assert kept.last_found_at > last_found_at


async def test_a_refresh_of_a_region_leaves_other_regions_alone(db, settings):
    here, _ = await make_household(db, settings, VILLAGE, [PersonSpec("韦一", relation="配偶")])
    there, _ = await make_household(
        db, settings, OTHER_TOWNSHIP_VILLAGE, [PersonSpec("韦二", relation="配偶")]
    )
    counts = await refresh(db, settings, TOWNSHIP)
    assert counts[C.household_head_count] == 1
    assert await found(db, C.household_head_count) == {(here.id, None)}
    await refresh(db, settings)
    assert await found(db, C.household_head_count) == {(here.id, None), (there.id, None)}
    # The other township is fixed, but only this one is refreshed: its finding stays.
    await db.execute(update(Member).where(Member.household_id == there.id).values(relation="户主"))
    await db.commit()
    await refresh(db, settings, "450226100")  # a prefix of village codes
    assert await found(db, C.household_head_count) == {(here.id, None), (there.id, None)}
    await refresh(db, settings, OTHER_TOWNSHIP)
    assert await found(db, C.household_head_count) == {(here.id, None)}


class _Statements:
    def __init__(self) -> None:
        self.queries: list[str] = []

    def __call__(self, record: Any) -> None:
        self.queries.append(record.query)


async def test_a_refresh_runs_one_statement_per_rule_whatever_the_rows(db, settings):
    """Set-based: the statements a refresh sends do not grow with the households checked."""

    async def statements() -> int:
        connection = await session_driver_connection(db)
        log = _Statements()
        connection.add_query_logger(log)
        try:
            await refresh_findings(db, None, cipher=PiiCipher.from_settings(settings))
        finally:
            connection.remove_query_logger(log)
        await db.commit()
        return len(log.queries)

    async def households(n: int) -> None:
        for i in range(n):
            _, (member,) = await make_household(
                db, settings, VILLAGE, [PersonSpec(f"韦{i}", relation="配偶", phone="1")]
            )
            await employ(db, member, months=0, region=None)

    await households(1)
    await statements()  # the driver's first look at the types it meets is not ours to count
    few = await statements()
    await households(20)
    many = await statements()
    assert few == many
    assert few >= len(CHECKS) + 1  # the lock, then one statement per rule (and cursor reads)
    assert len(await found(db, C.working_without_months)) == 21
    assert len(await found(db, C.phone_not_11_digits)) == 21


# --- Exemptions ---------------------------------------------------------------------------------


async def test_an_exemption_silences_its_rule_for_its_household_or_member(db, settings):
    household, (head, daughter) = await make_household(
        db,
        settings,
        VILLAGE,
        [PersonSpec("韦强", phone="1"), PersonSpec("韦梅", relation="之女", phone="2")],
    )
    other, (neighbour,) = await make_household(
        db, settings, VILLAGE, [PersonSpec("杨一", phone="3")]
    )
    db.add(
        DataCheckExemption(
            rule=C.phone_not_11_digits, household_id=household.id, member_id=head.id, reason="空号"
        )
    )
    db.add(
        DataCheckExemption(
            rule=C.household_head_count, household_id=other.id, member_id=None, reason="x"
        )
    )
    await db.commit()
    await refresh(db, settings)
    assert await found(db, C.phone_not_11_digits) == {
        (household.id, daughter.id),
        (other.id, neighbour.id),
    }
    db.add(
        DataCheckExemption(
            rule=C.phone_not_11_digits, household_id=household.id, member_id=None, reason="整户"
        )
    )
    await db.commit()
    counts = await refresh(db, settings)
    assert await found(db, C.phone_not_11_digits) == {(other.id, neighbour.id)}
    assert counts[C.phone_not_11_digits] == 1


@pytest.fixture
async def world(db, settings, make_user, auth):
    """A finding in the village, one in the next village, and callers around them."""
    household, (member,) = await make_household(db, settings, VILLAGE, [PersonSpec("韦强")])
    await employ(db, member, months=0)
    neighbour, (other,) = await make_household(db, settings, NEXT_VILLAGE, [PersonSpec("杨一")])
    await employ(db, other, months=0)
    await refresh(db, settings)
    return {
        "household": household,
        "member": member,
        "neighbour": neighbour,
        "coordinator": auth(await make_user(Role.coordinator, [VILLAGE])),
        "manager": auth(await make_user(Role.manager, [TOWNSHIP])),
        "outsider": auth(await make_user(Role.manager, [OTHER_TOWNSHIP])),
    }


async def test_findings_are_listed_in_scope(client, world):
    answer = await client.get("/api/v1/feed/findings", headers=world["coordinator"])
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["next_cursor"] is None
    [item] = body["items"]
    assert item["rule"] == "working_without_months"
    assert item["title"] == "务工但务工时间为0"
    assert item["household"]["id"] == str(world["household"].id)
    assert item["household"]["village_code"] == VILLAGE
    assert item["member"] == {
        "id": str(world["member"].id),
        "member_no": world["member"].member_no,
        "name": "韦强",
    }
    assert item["period"] == PERIOD
    assert item["details"] == {"months": 0}
    assert item["first_found_at"] and item["last_found_at"]

    # The next village is not the coordinator's: nothing of it.
    elsewhere = await client.get(
        "/api/v1/feed/findings", params={"region": NEXT_VILLAGE}, headers=world["coordinator"]
    )
    assert elsewhere.json()["items"] == []
    outsider = await client.get("/api/v1/feed/findings", headers=world["outsider"])
    assert outsider.json()["items"] == []

    manager = await client.get(
        "/api/v1/feed/findings",
        params={"rule": "working_without_months", "limit": 1},
        headers=world["manager"],
    )
    first = manager.json()
    assert len(first["items"]) == 1 and first["next_cursor"]
    rest = await client.get(
        "/api/v1/feed/findings",
        params={"rule": "working_without_months", "limit": 1, "cursor": first["next_cursor"]},
        headers=world["manager"],
    )
    households = {first["items"][0]["household"]["id"], rest.json()["items"][0]["household"]["id"]}
    assert households == {str(world["household"].id), str(world["neighbour"].id)}
    assert rest.json()["next_cursor"] is None
    none = await client.get(
        "/api/v1/feed/findings", params={"rule": "phone_not_11_digits"}, headers=world["manager"]
    )
    assert none.json()["items"] == []


async def test_rules_are_listed(client, world):
    answer = await client.get("/api/v1/feed/check-rules", headers=world["coordinator"])
    assert answer.status_code == 200
    codes = [rule["code"] for rule in answer.json()["items"]]
    assert codes == [c.value for c in CheckCode]
    assert all(rule["title"] and rule["explanation"] for rule in answer.json()["items"])


async def test_managers_exempt_and_lift_exemptions_in_their_region(client, db, world):
    body = {
        "rule": "working_without_months",
        "household_id": str(world["household"].id),
        "member_id": str(world["member"].id),
        "reason": "季节性务工，月数待下月核实",
    }
    # Coordinators read, managers write; another township's manager cannot see the household.
    refused = await client.post(
        "/api/v1/feed/check-exemptions", json=body, headers=world["coordinator"]
    )
    assert refused.status_code == 403
    hidden = await client.post(
        "/api/v1/feed/check-exemptions", json=body, headers=world["outsider"]
    )
    assert hidden.status_code == 404
    assert hidden.json()["code"] == "household_not_found"

    created = await client.post(
        "/api/v1/feed/check-exemptions", json=body, headers=world["manager"]
    )
    assert created.status_code == 201, created.text
    exemption = created.json()
    assert exemption["village_code"] == VILLAGE and exemption["member_id"] == body["member_id"]
    again = await client.post("/api/v1/feed/check-exemptions", json=body, headers=world["manager"])
    assert again.status_code == 409
    assert again.json()["code"] == "check_exemption_exists"

    # The finding went at once.
    listed = await client.get("/api/v1/feed/findings", headers=world["coordinator"])
    assert listed.json()["items"] == []
    exemptions = await client.get("/api/v1/feed/check-exemptions", headers=world["coordinator"])
    assert [e["id"] for e in exemptions.json()["items"]] == [exemption["id"]]
    outsiders = await client.get("/api/v1/feed/check-exemptions", headers=world["outsider"])
    assert outsiders.json()["items"] == []
    events = (
        await db.scalars(select(AuditEvent).where(AuditEvent.entity == "data_check_exemption"))
    ).all()
    assert [(e.action, e.region_code, e.reason) for e in events] == [
        ("create", VILLAGE, body["reason"])
    ]

    url = f"/api/v1/feed/check-exemptions/{exemption['id']}"
    assert (await client.delete(url, headers=world["outsider"])).status_code == 404
    assert (await client.delete(url, headers=world["coordinator"])).status_code == 403
    lifted = await client.delete(url, headers=world["manager"])
    assert lifted.status_code == 204, lifted.text
    assert (await client.delete(url, headers=world["manager"])).status_code == 404
    # Lifting checks the village again: the finding is back.
    listed = await client.get("/api/v1/feed/findings", headers=world["coordinator"])
    assert [i["rule"] for i in listed.json()["items"]] == ["working_without_months"]
    db.expire_all()
    actions = (
        await db.scalars(
            select(AuditEvent.action)
            .where(AuditEvent.entity == "data_check_exemption")
            .order_by(AuditEvent.occurred_at)
        )
    ).all()
    assert actions == ["create", "delete"]


async def test_an_exemption_names_a_member_of_the_household(client, db, settings, world):
    body = {
        "rule": "working_without_months",
        "household_id": str(world["neighbour"].id),
        "member_id": str(world["member"].id),  # of another household
        "reason": "核实中",
    }
    answer = await client.post("/api/v1/feed/check-exemptions", json=body, headers=world["manager"])
    assert answer.status_code == 404
    assert answer.json()["code"] == "member_not_found"
