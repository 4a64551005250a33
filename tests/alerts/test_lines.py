"""Monitoring income lines: setting them (one form of two), the nearest line up the tree, a
line of another year never applying, the formula, audit rows, and who reads and sets which."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import text

from app.alerts.lines import effective_line, line_amount, nearest_line_sql
from app.alerts.settings_scope import entity_id
from tests.alerts.settings_fixtures import (
    CITY,
    COUNTY,
    OTHER_COUNTY,
    OTHER_COUNTY_VILLAGE,
    OTHER_TOWNSHIP_VILLAGE,
    PROVINCE,
    SIBLING_VILLAGE,
    TOWNSHIP,
    VILLAGE,
    audit_events,
    make_callers,
)

URL = "/api/v1/monitoring-lines"
YEAR = 2026


@pytest.fixture
async def callers(db, make_user, auth) -> dict[str, dict[str, str]]:
    return await make_callers(db, make_user, auth)


def _put(client, headers, region: str, body: dict[str, Any], year: int = YEAR) -> Any:
    return client.put(f"{URL}/{region}/{year}", json=body, headers=headers)


async def _effective(client, headers, region: str, year: int = YEAR) -> dict[str, Any]:
    response = await client.get(
        f"{URL}/effective", params={"region": region, "year": year}, headers=headers
    )
    assert response.status_code == 200, response.text
    return response.json()


async def test_the_nearest_line_up_the_tree_applies(client, db, callers):
    admin, county = callers["admin"], callers["county"]
    assert (await _put(client, admin, PROVINCE, {"amount": "8700"})).status_code == 200
    # Only the province's: everyone below takes it.
    answer = await _effective(client, callers["coordinator"], VILLAGE)
    assert answer["amount"] == "8700.00"
    assert answer["source"]["region_code"] == PROVINCE
    assert answer["source"]["level"] == "province"
    assert answer["source"]["region_name"] == "广西壮族自治区"
    # The county's overrides the province's for all of the county.
    assert (await _put(client, county, COUNTY, {"amount": "9000"})).status_code == 200
    assert (await _effective(client, county, VILLAGE))["source"]["region_code"] == COUNTY
    assert (await _effective(client, county, TOWNSHIP))["amount"] == "9000.00"
    # A village's own overrides the county's, for that village alone.
    assert (await _put(client, county, VILLAGE, {"amount": "9500.5"})).status_code == 200
    assert (await _effective(client, county, VILLAGE))["amount"] == "9500.50"
    assert (await _effective(client, county, SIBLING_VILLAGE))["amount"] == "9000.00"
    # The other county has only the province's.
    other = await _effective(client, callers["other county"], OTHER_COUNTY_VILLAGE)
    assert other["amount"] == "8700.00" and other["source"]["region_code"] == PROVINCE
    # Another year: nothing applies.
    none = await _effective(client, county, VILLAGE, YEAR + 1)
    assert none == {"region_code": VILLAGE, "year": YEAR + 1, "amount": None, "source": None}
    # Removing the village's brings the county's back.
    removed = await client.delete(f"{URL}/{VILLAGE}/{YEAR}", headers=county)
    assert removed.status_code == 204
    assert (await _effective(client, county, VILLAGE))["amount"] == "9000.00"

    # The Python and SQL lookups agree.
    line = await effective_line(db, SIBLING_VILLAGE, YEAR)
    assert line is not None and line.region_code == COUNTY and line_amount(line) == Decimal(9000)
    assert await effective_line(db, VILLAGE, YEAR - 1) is None
    for code, expected in ((VILLAGE, "9000.00"), (OTHER_COUNTY_VILLAGE, "8700.00")):
        found = await db.scalar(
            text(f"SELECT {nearest_line_sql('CAST(:code AS varchar)', ':year')}"),
            {"code": code, "year": YEAR},
        )
        assert found == Decimal(expected)
    found = await db.scalar(
        text(f"SELECT {nearest_line_sql('CAST(:code AS varchar)', ':year')}"),
        {"code": VILLAGE, "year": YEAR + 1},
    )
    assert found is None


async def test_a_line_as_a_multiple_of_dibao(client, db, callers):
    county = callers["county"]
    put = await _put(client, county, COUNTY, {"dibao": "4815.50", "dibao_multiple": "2"})
    assert put.status_code == 200, put.text
    body = put.json()
    assert body["amount"] == "9631.00"
    assert body["dibao"] == "4815.50" and body["dibao_multiple"] == "2.00"
    # Worked out to the fen, half up, in Python and in SQL alike.
    put = await _put(
        client, county, COUNTY, {"dibao": "4000.01", "dibao_multiple": "1.5", "note": "县政发"}
    )
    assert put.json()["amount"] == "6000.02" and put.json()["note"] == "县政发"
    assert (await _effective(client, county, VILLAGE))["amount"] == "6000.02"
    found = await db.scalar(
        text(f"SELECT {nearest_line_sql('CAST(:code AS varchar)', ':year')}"),
        {"code": VILLAGE, "year": YEAR},
    )
    assert found == Decimal("6000.02")
    # From a formula back to an amount: the formula's fields are cleared.
    put = await _put(client, county, COUNTY, {"amount": "8000"})
    assert put.json()["dibao"] is None and put.json()["dibao_multiple"] is None


async def test_exactly_one_form(client, db, callers):
    county = callers["county"]

    async def refused(body: dict[str, Any]) -> list[tuple[str, str]]:
        response = await _put(client, county, COUNTY, body)
        assert response.status_code == 422, (body, response.text)
        return [(e["field"], e["message"]) for e in response.json()["errors"]]

    # Neither form; half a formula; both forms.
    one_form = ("body", "须且只能给出一种：固定金额 amount，或低保标准 dibao 与倍数 dibao_multiple")
    for body in (
        {},
        {"note": "只有说明"},
        {"dibao": "4000"},
        {"dibao_multiple": "2"},
        {"amount": "8000", "dibao": "4000"},
        {"amount": "8000", "dibao": "4000", "dibao_multiple": "2"},
    ):
        assert await refused(body) == [one_form], body
    # The other form's fields are left out, not null.
    assert await refused({"amount": None, "dibao": "4000", "dibao_multiple": "2"}) == [
        ("body.amount", "应为数字")
    ]
    # Amounts: at least 1 yuan, to the fen; multiples 0.1 to 10; text as the document says.
    for body in (
        {"amount": "0"},
        {"amount": 0.5},
        {"amount": "-1"},
        {"amount": "1.005"},
        {"amount": 1.005},
        {"amount": "1e4"},
        {"amount": " 8000"},
        {"amount": "10000000000"},
        {"dibao": "4000", "dibao_multiple": "0.05"},
        {"dibao": "4000", "dibao_multiple": "10.5"},
        {"dibao": "4000", "dibao_multiple": 2.001},
        {"amount": "8000", "extra": 1},
        {"amount": "8000", "note": "x" * 201},
    ):
        assert await refused(body), body
    assert (await _put(client, county, COUNTY, {"amount": "8000"}, year=1999)).status_code == 422
    listed = await client.get(URL, headers=county)
    assert listed.json()["items"] == []
    for body in ({"amount": 1}, {"amount": 8000.5}, {"dibao": 4000, "dibao_multiple": "0.1"}):
        assert (await _put(client, county, COUNTY, body)).status_code == 200, body
    assert (await _put(client, county, COUNTY, {"dibao": "1", "dibao_multiple": 10})).json()[
        "amount"
    ] == "10.00"


async def test_writes_are_audited(client, db, callers):
    county = callers["county"]
    assert (await _put(client, county, COUNTY, {"amount": "8500"})).status_code == 200
    assert (await _put(client, county, COUNTY, {"amount": "8500.00"})).status_code == 200  # same
    body = {"dibao": "4500", "dibao_multiple": "2"}
    assert (await _put(client, county, COUNTY, body)).status_code == 200
    assert (await client.delete(f"{URL}/{COUNTY}/{YEAR}", headers=county)).status_code == 204
    missing = await client.delete(f"{URL}/{COUNTY}/{YEAR}", headers=county)
    assert missing.status_code == 404 and missing.json()["code"] == "monitoring_line_not_found"
    events = await audit_events(db, "monitoring_line", entity_id("monitoring_line", COUNTY, YEAR))
    assert [e.action for e in events] == ["create", "update", "delete"]
    assert events[0].changes == {"amount": {"old": None, "new": "8500"}}
    assert events[1].changes == {
        "amount": {"old": "8500.00", "new": None},
        "dibao": {"old": None, "new": "4500"},
        "dibao_multiple": {"old": None, "new": "2"},
    }
    assert events[2].changes == {
        "dibao": {"old": "4500.00", "new": None},
        "dibao_multiple": {"old": "2.00", "new": None},
    }
    assert all(e.region_code == COUNTY for e in events)


async def test_who_reads_and_sets_which_line(client, db, callers):
    admin = callers["admin"]
    for region in (PROVINCE, CITY, COUNTY, TOWNSHIP, VILLAGE, OTHER_COUNTY):
        assert (await _put(client, admin, region, {"amount": "8000"})).status_code == 200
    assert (await _put(client, admin, PROVINCE, {"amount": "8000"}, YEAR - 1)).status_code == 200

    async def listed(name: str, **params: Any) -> set[tuple[str, int]]:
        response = await client.get(URL, params=params, headers=callers[name])
        assert response.status_code == 200, (name, response.text)
        return {(i["region_code"], i["year"]) for i in response.json()["items"]}

    everything = {
        (PROVINCE, YEAR),
        (PROVINCE, YEAR - 1),
        (CITY, YEAR),
        (COUNTY, YEAR),
        (TOWNSHIP, YEAR),
        (VILLAGE, YEAR),
        (OTHER_COUNTY, YEAR),
    }
    assert await listed("admin") == everything
    mine = everything - {(OTHER_COUNTY, YEAR)}
    # Those of their regions, above them and under them.
    assert await listed("coordinator") == mine
    assert await listed("county") == mine
    assert await listed("township") == mine
    assert await listed("other township") == mine - {(TOWNSHIP, YEAR), (VILLAGE, YEAR)}
    assert await listed("sibling coordinator") == mine - {(VILLAGE, YEAR)}
    assert await listed("other county") == {
        (PROVINCE, YEAR),
        (PROVINCE, YEAR - 1),
        (CITY, YEAR),
        (OTHER_COUNTY, YEAR),
    }
    assert await listed("county", year=YEAR - 1) == {(PROVINCE, YEAR - 1)}
    assert await listed("county", region=SIBLING_VILLAGE) == mine - {(VILLAGE, YEAR)}
    assert await listed("admin", region=OTHER_COUNTY) == {
        (PROVINCE, YEAR),
        (PROVINCE, YEAR - 1),
        (CITY, YEAR),
        (OTHER_COUNTY, YEAR),
    }
    # Pages.
    first = await client.get(URL, params={"limit": 4}, headers=admin)
    assert len(first.json()["items"]) == 4 and first.json()["next_cursor"]
    rest = await client.get(
        URL, params={"limit": 4, "cursor": first.json()["next_cursor"]}, headers=admin
    )
    assert rest.json()["next_cursor"] is None
    pages = first.json()["items"] + rest.json()["items"]
    assert [(i["region_code"], i["year"]) for i in pages] == sorted(everything)

    # A region outside one's scope, or unknown: 404.
    for name, region in (
        ("coordinator", SIBLING_VILLAGE),
        ("coordinator", OTHER_TOWNSHIP_VILLAGE),
        ("county", OTHER_COUNTY),
        ("township", OTHER_TOWNSHIP_VILLAGE),
        ("admin", "450226100299"),
    ):
        for response in (
            await client.get(URL, params={"region": region}, headers=callers[name]),
            await client.get(
                f"{URL}/effective", params={"region": region, "year": YEAR}, headers=callers[name]
            ),
        ):
            assert response.status_code == 404, (name, region, response.text)
            assert response.json()["code"] == "region_not_found"
    # Up the tree is readable: a coordinator asks about their province.
    assert (await _effective(client, callers["coordinator"], PROVINCE))["amount"] == "8000.00"

    # Writes: managers holding the region; above their region 403; outside it 404.
    body = {"amount": "9100"}
    assert (await _put(client, callers["county"], VILLAGE, body)).status_code == 200
    assert (await _put(client, callers["township"], TOWNSHIP, body)).status_code == 200
    assert (await _put(client, callers["province"], PROVINCE, body)).status_code == 200
    for name, region in (("county", PROVINCE), ("county", CITY), ("township", COUNTY)):
        response = await _put(client, callers[name], region, body)
        assert response.status_code == 403 and response.json()["code"] == "region_not_managed"
        response = await client.delete(f"{URL}/{region}/{YEAR}", headers=callers[name])
        assert response.status_code == 403
    for name, region in (("county", OTHER_COUNTY), ("other township", VILLAGE)):
        assert (await _put(client, callers[name], region, body)).status_code == 404
        response = await client.delete(f"{URL}/{region}/{YEAR}", headers=callers[name])
        assert response.status_code == 404
    for name in ("coordinator", "villager"):
        assert (await _put(client, callers[name], VILLAGE, body)).status_code == 403
        response = await client.delete(f"{URL}/{VILLAGE}/{YEAR}", headers=callers[name])
        assert response.status_code == 403
    assert (await client.get(URL, headers=callers["villager"])).status_code == 403
    assert (await client.get(URL)).status_code == 401
    assert (await client.put(f"{URL}/{COUNTY}/{YEAR}", json=body)).status_code == 401
    assert (await _put(client, admin, "4502261002", body)).status_code == 422
