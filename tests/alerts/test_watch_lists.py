"""The watch lists, each for exactly the people (or households) it should list and no one else,
with boundary cases (the month before January, exactly six months, exactly the line, exactly
the county's thresholds, a member deleted from the registry), pages, and each role's scope."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import update

from app.households.models import Household, Member
from tests.alerts.conftest import compute
from tests.alerts.settings_fixtures import (
    COUNTY,
    OTHER_COUNTY_VILLAGE,
    OTHER_TOWNSHIP_VILLAGE,
    PROVINCE,
    SIBLING_VILLAGE,
    TOWNSHIP,
    VILLAGE,
    make_callers,
    periods,
    write_intent,
    write_months,
)
from tests.households.factories import PersonSpec, make_household

URL = "/api/v1/watch-lists"
PERIOD = "2026-10"
AWAY = {"status": "务工", "work_region": "省外", "employer": "东莞某电子厂"}
AWAY_IN_PROVINCE = {"status": "务工", "work_region": "省内县外", "employer": "南宁某物流"}
AT_HOME = {"status": "务工", "work_region": "县内", "employer": "古宜镇帮扶车间"}


@pytest.fixture
async def callers(db, make_user, auth) -> dict[str, dict[str, str]]:
    return await make_callers(db, make_user, auth)


async def _person(db, settings, name: str, village: str = VILLAGE, **spec: Any) -> Member:
    _, [member] = await make_household(db, settings, village, [PersonSpec(name, **spec)])
    return member


async def _delete(db, member: Member) -> None:
    await db.execute(
        update(Member).where(Member.id == member.id).values(deleted_at=datetime.now(UTC))
    )
    await db.commit()


async def _list(
    client, headers, name: str, *, status: int = 200, **params: Any
) -> list[dict[str, Any]]:
    response = await client.get(
        f"{URL}/{name}", params={"period": PERIOD, **params}, headers=headers
    )
    assert response.status_code == status, response.text
    if status != 200:
        return []
    body = response.json()
    assert body["list"] == name and body["period"] == params.get("period", PERIOD)
    return body["items"]


def _names(items: list[dict[str, Any]]) -> list[str]:
    return [item["name"] for item in items]


async def _run(app, *periods_run: str) -> None:
    """The alert runs of those months over the whole province, in order, as a worker's."""
    for period in periods_run:
        run = await compute(app, period, PROVINCE)
        assert run.status == "succeeded", run.error


async def test_returned_home(app, client, db, settings, callers):
    """The month's 返乡回流 alerts (the rule itself is tested with the engine)."""
    county = callers["county"]
    listed = await _person(db, settings, "甲返乡")
    await write_months(db, listed.id, {"2026-09": AWAY, PERIOD: "未务工"})
    in_province = await _person(db, settings, "乙返乡")
    await write_months(db, in_province.id, {"2026-09": AWAY_IN_PROVINCE, PERIOD: "未务工"})
    # Not: worked in the county last month; still away; not recorded this month; not working
    # last month; deleted from the registry.
    for name, months in (
        ("丙县内", {"2026-09": AT_HOME, PERIOD: "未务工"}),
        ("丁仍在外", {"2026-09": AWAY, PERIOD: AWAY}),
        ("戊未记录", {"2026-09": AWAY}),
        ("己上月未务工", {"2026-08": AWAY, "2026-09": "未务工", PERIOD: "未务工"}),
    ):
        member = await _person(db, settings, name)
        await write_months(db, member.id, months)
    deleted = await _person(db, settings, "庚已删除")
    await write_months(db, deleted.id, {"2026-09": AWAY, PERIOD: "未务工"})
    await _delete(db, deleted)
    january = await _person(db, settings, "辛一月")
    await write_months(db, january.id, {"2025-12": AWAY, "2026-01": "未务工"})

    # A month no run has computed lists no one.
    assert await _list(client, county, "returned_home") == []
    await _run(app, "2026-01", "2026-09", PERIOD)

    items = await _list(client, county, "returned_home")
    assert sorted(_names(items)) == ["乙返乡", "甲返乡"]
    [first] = [i for i in items if i["name"] == "甲返乡"]
    assert first["member_id"] == str(listed.id)
    assert first["household_id"] == str(listed.household_id)
    assert first["member_no"] == listed.member_no and first["village_code"] == VILLAGE
    assert first["household_no"]
    assert first["figures"]["period"] == PERIOD
    assert first["figures"]["last_month"] == "2026-09"
    assert "id_number" not in str(items)
    # A month earlier, the one who came back then (an episode that has ended since still
    # covers its month); across a year's end, December is the month before January.
    assert _names(await _list(client, county, "returned_home", period="2026-09")) == [
        "己上月未务工"
    ]
    assert _names(await _list(client, county, "returned_home", period="2026-01")) == ["辛一月"]


async def test_intent_lists(client, db, settings, callers):
    county = callers["county"]
    going = await _person(db, settings, "甲外出")
    await write_intent(db, going.id, "外出")
    await write_months(db, going.id, {PERIOD: "未务工"})
    nearby = await _person(db, settings, "乙就近")
    await write_intent(db, nearby.id, "就近")
    unwilling = await _person(db, settings, "丙无意愿")
    await write_intent(db, unwilling.id, "无意愿", reason="照顾老人")
    gone = await _person(db, settings, "丁已删除")
    await write_intent(db, gone.id, "外出")
    await _delete(db, gone)
    gone_unwilling = await _person(db, settings, "戊已删除")
    await write_intent(db, gone_unwilling.id, "无意愿", reason="身体原因")
    await _delete(db, gone_unwilling)

    [item] = await _list(client, county, "willing_to_go_out")
    assert item["name"] == "甲外出" and item["member_id"] == str(going.id)
    assert item["figures"]["status"] == "未务工"
    assert item["figures"]["intent_source"] == "visit"
    assert item["figures"]["intent_observed_at"].startswith("2026-10-20")
    # Intent has no monthly history: any period lists today's.
    assert _names(await _list(client, county, "willing_to_go_out", period="2025-01")) == ["甲外出"]

    [item] = await _list(client, county, "no_intent_ledger")
    assert item["name"] == "丙无意愿"
    assert item["figures"]["reason"] == "照顾老人" and item["figures"]["source"] == "visit"
    assert item["figures"]["observed_at"].startswith("2026-10-20")


async def test_unstable_employment(app, client, db, settings, callers):
    """The month's 就业不稳定 alerts, each county on its own thresholds."""
    county = callers["county"]
    window = periods(PERIOD, 12)  # 2025-11 … 2026-10

    async def worker(name: str, months: dict[str, Any], village: str = VILLAGE) -> Member:
        member = await _person(db, settings, name, village)
        await write_months(db, member.id, months)
        return member

    await worker("甲五个月", {p: AT_HOME for p in window[-5:]})
    await worker("乙六个月", {p: AT_HOME for p in window[-6:]})  # exactly the default: not
    # A month before the window does not count: five in it.
    await worker("丙窗口外", {"2025-10": AT_HOME, **{p: AT_HOME for p in window[:5]}})
    employers = ["甲厂", "甲厂", "乙厂", "乙厂", "丙厂", "丙厂", "丁厂"] + ["丁厂"] * 5
    await worker(
        "丁换三次", {p: {**AT_HOME, "employer": e} for p, e in zip(window, employers, strict=True)}
    )
    employers = ["甲厂"] * 4 + ["乙厂"] * 4 + ["甲厂"] * 4  # two changes: not
    await worker(
        "戊换两次", {p: {**AT_HOME, "employer": e} for p, e in zip(window, employers, strict=True)}
    )
    # A working month without an employer neither counts as a change nor breaks one.
    employers = ["甲厂"] * 3 + [None] + ["乙厂"] * 3 + [None] + ["丙厂"] * 2 + ["丁厂"] * 2
    await worker(
        "己空雇主", {p: {**AT_HOME, "employer": e} for p, e in zip(window, employers, strict=True)}
    )
    await worker("庚未务工", {p: "未务工" for p in window})
    deleted = await worker("辛已删除", {p: AT_HOME for p in window[-2:]})
    await _delete(db, deleted)
    await worker("壬他县", {p: AT_HOME for p in window[-5:]}, OTHER_COUNTY_VILLAGE)

    await _run(app, PERIOD)
    items = await _list(client, callers["admin"], "unstable_employment")
    assert sorted(_names(items)) == sorted(
        ["甲五个月", "丙窗口外", "丁换三次", "己空雇主", "壬他县"]
    )
    by_name = {i["name"]: i["figures"] for i in items}
    assert by_name["甲五个月"] == {
        "months_employed": 5,
        "employer_changes": 0,
        "min_months_employed": 6,
        "max_employer_changes": 3,
        "from": "2025-11",
        "to": PERIOD,
    }
    assert by_name["丙窗口外"]["months_employed"] == 5
    assert by_name["丁换三次"]["employer_changes"] == 3
    assert by_name["己空雇主"]["employer_changes"] == 3

    # The county's own thresholds apply to its people alone.
    put = await client.put(
        "/api/v1/alert-rules",
        json={
            "rules": {
                "unstable_employment": {
                    "thresholds": {"min_months_employed": 5, "max_employer_changes": 2}
                }
            }
        },
        headers=county,
    )
    assert put.status_code == 200, put.text
    await _run(app, PERIOD)  # the month computed again, on the new thresholds
    items = await _list(client, callers["admin"], "unstable_employment")
    assert sorted(_names(items)) == sorted(["丁换三次", "戊换两次", "己空雇主", "壬他县"])
    by_name = {i["name"]: i["figures"] for i in items}
    assert by_name["戊换两次"]["max_employer_changes"] == 2
    assert by_name["壬他县"]["min_months_employed"] == 6
    assert sorted(_names(await _list(client, county, "unstable_employment"))) == sorted(
        ["丁换三次", "戊换两次", "己空雇主"]
    )


async def _household(
    db, settings, people: list[tuple[str, str]], *, category: str = "监测户", village=VILLAGE
) -> tuple[Household, list[Member]]:
    specs = [
        PersonSpec(name, relation="户主" if i == 0 else "之子", labour_type=labour)
        for i, (name, labour) in enumerate(people)
    ]
    return await make_household(db, settings, village, specs, category=category)


LABOURER = "普通劳动力"
NONE = "无劳动力"


async def test_risk_clearable(client, db, settings, callers):
    county, admin = callers["county"], callers["admin"]
    # The province's line for the year; a household of two earning 1,400 a month reaches it
    # exactly (1,400 × 12 ÷ 2 = 8,400).
    response = await client.put(
        f"/api/v1/monitoring-lines/{PROVINCE}/2026", json={"amount": "8400"}, headers=admin
    )
    assert response.status_code == 200
    six = periods(PERIOD, 6)  # 2026-05 … 2026-10

    async def earning(name: str, incomes: dict[str, Any], **options: Any) -> Household:
        household, [labourer, _] = await _household(
            db, settings, [(name, LABOURER), (name + "子", NONE)], **options
        )
        await write_months(
            db, labourer.id, {p: {**AT_HOME, "income": i} for p, i in incomes.items()}
        )
        return household

    listed = await earning("甲恰好", {p: "1400" for p in six})
    await earning("乙差一分", {p: "1400" for p in six[:-1]} | {six[-1]: "1399.99"})
    await earning("丙五个月", {p: "1400" for p in six[1:]})
    eliminated = await earning("丁已消除", {p: "2000" for p in six})
    await db.execute(
        update(Household).where(Household.id == eliminated.id).values(risk_eliminated=True)
    )
    await db.commit()
    await earning("戊一般户", {p: "2000" for p in six}, category="一般农户")
    await earning("己脱贫户", {p: "1500" for p in six}, category="脱贫户")
    # No labour force: stays monitored whatever the income.
    _, [weak, _] = await _household(db, settings, [("庚无劳力", "丧失劳动力"), ("庚子", NONE)])
    await write_months(db, weak.id, {p: {**AT_HOME, "income": "5000"} for p in six})
    # A member deleted from the registry counts neither in income nor in the head count.
    _, [head, _, gone] = await _household(
        db, settings, [("辛删后够", LABOURER), ("辛子", NONE), ("辛已删", LABOURER)]
    )
    await write_months(db, head.id, {p: {**AT_HOME, "income": "1400"} for p in six})
    await write_months(db, gone.id, {p: {**AT_HOME, "income": "9000"} for p in six})
    await _delete(db, gone)
    # A month recorded by a non-labourer only does not count as recorded.
    _, [labourer, other] = await _household(
        db, settings, [("壬非劳力记录", LABOURER), ("壬子", NONE)]
    )
    await write_months(db, labourer.id, {p: {**AT_HOME, "income": "1400"} for p in six[1:]})
    await write_months(db, other.id, {six[0]: {**AT_HOME, "income": "1400"}})

    items = await _list(client, county, "risk_clearable")
    assert {i["name"] for i in items} == {"甲恰好", "己脱贫户", "辛删后够"}
    [item] = [i for i in items if i["name"] == "甲恰好"]
    assert item["member_id"] is None and item["member_no"] is None
    assert item["household_id"] == str(listed.id) and item["household_no"] == listed.household_no
    assert item["figures"] == {
        "months": 6,
        "first_period": "2026-05",
        "last_period": PERIOD,
        "members": 2,
        "labourers": 1,
        "lowest_income_per_head": "8400.00",
        "line": "8400.00",
    }
    # The line of another year does not apply: no line for 2027, nobody listed.
    assert await _list(client, county, "risk_clearable", period="2027-03") == []


async def test_risk_clearable_across_years(client, db, settings, callers):
    """Each month is held to its own year's line: 2026's the province's, 2027's the county's."""
    admin = callers["admin"]
    for region, year, amount in ((PROVINCE, 2026, "8400"), (COUNTY, 2027, "9000")):
        response = await client.put(
            f"/api/v1/monitoring-lines/{region}/{year}", json={"amount": amount}, headers=admin
        )
        assert response.status_code == 200
    six = periods("2027-02", 6)  # 2026-09 … 2027-02

    async def earning(name: str, incomes: list[str]) -> None:
        _, [labourer, _] = await _household(db, settings, [(name, LABOURER), (name + "子", NONE)])
        months = {p: {**AT_HOME, "income": i} for p, i in zip(six, incomes, strict=True)}
        await write_months(db, labourer.id, months)

    await earning("甲够线", ["1400"] * 4 + ["1500"] * 2)
    await earning("乙新年不够", ["1400"] * 6)
    items = await _list(client, admin, "risk_clearable", period="2027-02")
    assert _names(items) == ["甲够线"]
    assert items[0]["figures"]["line"] == "9000.00"


async def test_scope_and_pages(client, db, settings, callers):
    people = {}
    for name, village in (
        ("本村一", VILLAGE),
        ("本村二", VILLAGE),
        ("本村三", VILLAGE),
        ("邻村", SIBLING_VILLAGE),
        ("他镇", OTHER_TOWNSHIP_VILLAGE),
        ("他县", OTHER_COUNTY_VILLAGE),
    ):
        people[name] = await _person(db, settings, name, village)
        await write_intent(db, people[name].id, "外出")

    async def seen(name: str, **params: Any) -> set[str]:
        return set(_names(await _list(client, callers[name], "willing_to_go_out", **params)))

    here = {"本村一", "本村二", "本村三"}
    assert await seen("coordinator") == here
    assert await seen("sibling coordinator") == {"邻村"}
    assert await seen("township") == here | {"邻村"}
    assert await seen("other township") == {"他镇"}
    assert await seen("county") == here | {"邻村", "他镇"}
    assert await seen("other county") == {"他县"}
    assert await seen("admin") == here | {"邻村", "他镇", "他县"}
    assert await seen("admin", region=TOWNSHIP) == here | {"邻村"}
    assert await seen("county", region=VILLAGE) == here
    # A coordinator naming their township sees their own villages in it.
    assert await seen("coordinator", region=TOWNSHIP) == here
    assert await seen("coordinator", region=COUNTY) == here
    # Outside one's scope, or unknown: 404; villagers: 403; nobody: 401.
    for name, region in (
        ("coordinator", SIBLING_VILLAGE),
        ("township", OTHER_TOWNSHIP_VILLAGE),
        ("county", OTHER_COUNTY_VILLAGE),
        ("admin", "450226100299"),
    ):
        response = await client.get(
            f"{URL}/willing_to_go_out", params={"region": region}, headers=callers[name]
        )
        assert response.status_code == 404, (name, region)
        assert response.json()["code"] == "region_not_found"
    for name in ("returned_home", "risk_clearable"):
        response = await client.get(f"{URL}/{name}", headers=callers["villager"])
        assert response.status_code == 403
        assert (await client.get(f"{URL}/{name}")).status_code == 401
    assert (await client.get(f"{URL}/nobody_list", headers=callers["admin"])).status_code == 422
    bad = await client.get(
        f"{URL}/returned_home", params={"period": "2026-13"}, headers=callers["admin"]
    )
    assert bad.status_code == 422

    # Pages, in village, household and member order, each person once.
    collected: list[str] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        response = await client.get(
            f"{URL}/willing_to_go_out", params=params, headers=callers["admin"]
        )
        assert response.status_code == 200, response.text
        collected += _names(response.json()["items"])
        cursor = response.json()["next_cursor"]
        if cursor is None:
            break
    assert len(collected) == 6 and set(collected) == set(people)
    order = sorted(
        people.values(),
        key=lambda m: (m.member_no[:12], m.member_no.rsplit("-", 1)[0], m.member_no),
    )
    assert collected == [m.name for m in order]
    # A cursor of the wrong shape (a household list's on a member list) is refused.
    broken = await client.get(
        f"{URL}/willing_to_go_out", params={"cursor": "WyJhIl0"}, headers=callers["admin"]
    )
    assert broken.status_code == 400 and broken.json()["code"] == "invalid_cursor"
