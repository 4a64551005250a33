"""A county's alert rules: defaults merged with what it set, validation of every kind, what is
stored (only what differs from the defaults), audit rows, and who reads and sets which county."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from app.alerts.settings import AUDIT_ENTITY, effective_rules, settings_entity_id
from app.alerts.settings_models import AlertRuleSetting, AlertSchedule
from app.cli import seed_demo
from app.core.periods import today
from app.demo.seed import DEMO_TOWNSHIP_TARGETS
from app.policy.alerts import DEFAULT_RUN_DAY, RULES, AlertRule
from tests.alerts.settings_fixtures import (
    COUNTY,
    OTHER_COUNTY,
    TOWNSHIP,
    audit_events,
    make_callers,
)

URL = "/api/v1/alert-rules"


@pytest.fixture
async def callers(db, make_user, auth) -> dict[str, dict[str, str]]:
    return await make_callers(db, make_user, auth)


def _rule(body: dict[str, Any], rule: str) -> dict[str, Any]:
    [found] = [r for r in body["rules"] if r["rule"] == rule]
    return found


def _thresholds(body: dict[str, Any], rule: str) -> dict[str, Any]:
    return {t["name"]: t for t in _rule(body, rule)["thresholds"]}


async def test_defaults_until_the_county_sets_its_own(client, callers):
    response = await client.get(URL, headers=callers["county"])
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["county_code"] == COUNTY and body["run_day"] == DEFAULT_RUN_DAY
    assert body["updated_at"] is None and body["updated_by"] is None
    assert [r["rule"] for r in body["rules"]] == list(RULES)
    unstable = _rule(body, "unstable_employment")
    assert unstable["title"] == "就业不稳定" and unstable["subject"] == "member"
    assert unstable["kind"] == "risk" and unstable["enabled"] is True
    assert unstable["thresholds"][0] == {
        "name": "min_months_employed",
        "title": "近12个月最少务工月数",
        "value": 6,
        "default": 6,
        "minimum": 1,
        "maximum": 12,
    }
    farming = _thresholds(body, "zero_employment_household")["farming_counts"]
    assert farming["value"] is True and farming["default"] is True
    assert farming["minimum"] is None and farming["maximum"] is None
    assert _rule(body, "subsidy_eligible")["kind"] == "opportunity"
    assert _rule(body, "employment_lost")["thresholds"] == []


async def test_a_county_sets_thresholds_switches_and_run_day(client, db, callers):
    county = callers["county"]
    put = await client.put(
        URL,
        json={
            "run_day": 5,
            "rules": {
                "unstable_employment": {"thresholds": {"min_months_employed": 4}},
                "zero_employment_household": {"thresholds": {"farming_counts": False}},
                "visit_overdue": {"enabled": False},
            },
        },
        headers=county,
    )
    assert put.status_code == 200, put.text
    body = put.json()
    assert body["run_day"] == 5 and body["updated_at"] is not None
    unstable = _thresholds(body, "unstable_employment")
    assert unstable["min_months_employed"]["value"] == 4
    assert unstable["min_months_employed"]["default"] == 6
    assert unstable["max_employer_changes"]["value"] == 3  # not named: left as it was
    assert _thresholds(body, "zero_employment_household")["farming_counts"]["value"] is False
    assert _rule(body, "visit_overdue")["enabled"] is False
    assert (await client.get(URL, headers=county)).json() == body

    # Stored: only what differs from the defaults.
    rows = {
        r.rule: r
        for r in (
            await db.scalars(select(AlertRuleSetting).where(AlertRuleSetting.county_code == COUNTY))
        ).all()
    }
    assert set(rows) == {"unstable_employment", "zero_employment_household", "visit_overdue"}
    assert rows["unstable_employment"].params == {"min_months_employed": 4}
    assert rows["visit_overdue"].params == {} and rows["visit_overdue"].enabled is False
    assert (await db.get(AlertSchedule, COUNTY)).run_day == 5

    # The Python view of the same.
    effective = {s.rule: s for s in await effective_rules(db, COUNTY)}
    assert effective[AlertRule.unstable_employment].params == {
        "min_months_employed": 4,
        "max_employer_changes": 3,
    }
    assert effective[AlertRule.visit_overdue].enabled is False
    assert effective[AlertRule.income_drop].params == {"drop_percent": 20}
    other = {s.rule: s for s in await effective_rules(db, OTHER_COUNTY)}
    assert other[AlertRule.unstable_employment].params["min_months_employed"] == 6

    # Back to the defaults (by value, by null, by switching on): nothing stored any more.
    back = await client.put(
        URL,
        json={
            "run_day": DEFAULT_RUN_DAY,
            "rules": {
                "unstable_employment": {"thresholds": {"min_months_employed": 6}},
                "zero_employment_household": {"thresholds": {"farming_counts": None}},
                "visit_overdue": {"enabled": True},
            },
        },
        headers=county,
    )
    assert back.status_code == 200, back.text
    assert back.json()["run_day"] == DEFAULT_RUN_DAY
    db.expunge_all()
    assert (
        await db.scalars(select(AlertRuleSetting).where(AlertRuleSetting.county_code == COUNTY))
    ).all() == []
    assert await db.get(AlertSchedule, COUNTY) is None


async def test_changes_are_audited_with_old_and_new(client, db, callers):
    county = callers["county"]
    first = {
        "run_day": 10,
        "rules": {"income_drop": {"thresholds": {"drop_percent": 30}}},
    }
    assert (await client.put(URL, json=first, headers=county)).status_code == 200
    # The same again writes nothing.
    assert (await client.put(URL, json=first, headers=county)).status_code == 200
    second = {"rules": {"income_drop": {"enabled": False, "thresholds": {"drop_percent": 20}}}}
    assert (await client.put(URL, json=second, headers=county)).status_code == 200
    events = await audit_events(db, AUDIT_ENTITY, settings_entity_id(COUNTY))
    assert [e.changes for e in events] == [
        {
            "run_day": {"old": DEFAULT_RUN_DAY, "new": 10},
            "income_drop.drop_percent": {"old": 20, "new": 30},
        },
        {
            "income_drop.enabled": {"old": True, "new": False},
            "income_drop.drop_percent": {"old": 30, "new": 20},
        },
    ]
    assert all(e.region_code == COUNTY and e.action == "update" for e in events)
    # Disabled with default thresholds: a row with no params.
    row = await db.get(AlertRuleSetting, (COUNTY, "income_drop"))
    assert row is not None and row.enabled is False and row.params == {}


async def test_every_rule_of_validation(client, db, callers):
    county = callers["county"]

    async def refused(body: dict[str, Any]) -> list[dict[str, str]]:
        response = await client.put(URL, json=body, headers=county)
        assert response.status_code == 422, response.text
        assert response.json()["code"] == "validation_failed"
        return response.json()["errors"]

    def rule(name: str, **thresholds: Any) -> dict[str, Any]:
        return {"rules": {name: {"thresholds": thresholds}}}

    [error] = await refused({"rules": {"no_such_rule": {}}})
    assert error == {"field": "body.rules.no_such_rule", "message": "不支持此字段"}
    [error] = await refused(rule("income_drop", drop_pct=10))
    assert error == {
        "field": "body.rules.income_drop.thresholds.drop_pct",
        "message": "不支持此字段",
    }
    # A threshold of another rule is unknown here.
    [error] = await refused(rule("income_drop", days=10))
    assert error["field"] == "body.rules.income_drop.thresholds.days"
    # Out of bounds, either side; bounds themselves are accepted (below).
    [error] = await refused(rule("unstable_employment", min_months_employed=13))
    assert error == {
        "field": "body.rules.unstable_employment.thresholds.min_months_employed",
        "message": "不能大于 12",
    }
    [error] = await refused(rule("unstable_employment", min_months_employed=0))
    assert error["message"] == "不能小于 1"
    # Numbers are integers: not true, not a fraction, not text.
    for value in (True, 2.5, "4"):
        [error] = await refused(rule("unstable_employment", min_months_employed=value))
        assert error["message"] == "应为整数", value
    # A switch takes true or false only: not 0 or 1, not text.
    for value in (0, 1, "true", "yes"):
        [error] = await refused(rule("zero_employment_household", farming_counts=value))
        assert error == {
            "field": "body.rules.zero_employment_household.thresholds.farming_counts",
            "message": "应为布尔值（true 或 false）",
        }
    # A rule without thresholds takes none.
    assert await refused({"rules": {"employment_lost": {"thresholds": {}}}})
    # Several problems at once, each named.
    errors = await refused(
        {"rules": {"nope": {}, "visit_overdue": {"thresholds": {"days": 366, "weeks": 2}}}}
    )
    assert sorted(e["field"] for e in errors) == [
        "body.rules.nope",
        "body.rules.visit_overdue.thresholds.days",
        "body.rules.visit_overdue.thresholds.weeks",
    ]
    # The run day: 1 to 28; unknown fields anywhere.
    for day in (0, 29):
        [error] = await refused({"run_day": day})
        assert error["field"] == "body.run_day"
    assert await refused({"run_days": 3})
    assert await refused({"rules": {"income_drop": {"switch": True}}})
    assert await refused({"rules": [{"rule": "income_drop"}]})
    # Nothing of any of these was stored or audited.
    assert (await db.scalars(select(AlertRuleSetting))).all() == []
    assert await audit_events(db, AUDIT_ENTITY, settings_entity_id(COUNTY)) == []
    # Bounds themselves are accepted.
    ok = await client.put(
        URL,
        json={
            "run_day": 28,
            "rules": {
                "unstable_employment": {"thresholds": {"min_months_employed": 12}},
                "region_behind_target": {"thresholds": {"tolerance_percent": 0}},
                "visit_overdue": {"thresholds": {"days": 1}},
            },
        },
        headers=county,
    )
    assert ok.status_code == 200, ok.text
    first = await client.put(URL, json={"run_day": 1}, headers=county)
    assert first.status_code == 200 and first.json()["run_day"] == 1


async def test_who_reads_and_sets_which_county(client, callers):
    def get(name: str, **params: str) -> Any:
        return client.get(URL, params=params, headers=callers[name])

    def put(name: str, **params: str) -> Any:
        return client.put(URL, params=params, json={"run_day": 3}, headers=callers[name])

    assert (await client.get(URL)).status_code == 401
    assert (await client.put(URL, json={"run_day": 3})).status_code == 401
    # A township manager reads their county's but may not change it.
    assert (await get("township")).json()["county_code"] == COUNTY
    refused = await put("township")
    assert refused.status_code == 403 and refused.json()["code"] == "not_county_level"
    for name in ("coordinator", "villager"):
        assert (await get(name)).status_code == 403
        assert (await put(name)).status_code == 403
    # Another county's: as if it did not exist.
    for name in ("county", "township"):
        response = await put(name, county_code=OTHER_COUNTY)
        assert response.status_code == 404 and response.json()["code"] == "region_not_found"
    assert (await get("other county", county_code=COUNTY)).status_code == 404
    # Admins and managers above county level name the county; not a township.
    for name in ("admin", "province"):
        assert (await get(name)).status_code == 422
        assert (await put(name, county_code=TOWNSHIP)).status_code == 422
    assert (await put("admin", county_code="450299000000")).status_code == 404
    done = await put("province", county_code=OTHER_COUNTY)
    assert done.status_code == 200 and done.json()["run_day"] == 3
    assert (await get("other county")).json()["run_day"] == 3
    assert (await get("county")).json()["run_day"] == DEFAULT_RUN_DAY


async def test_the_demo_seed_sets_lines_and_targets_once(client, settings):
    first = await seed_demo(settings, households=20)
    assert first.alert_settings == 4 + len(DEMO_TOWNSHIP_TARGETS)
    assert (await seed_demo(settings, households=20)).alert_settings == 0
    login = await client.post(
        "/api/v1/auth/token",
        data={"grant_type": "password", "username": "county", "password": "wengang-county"},
    )
    headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
    year = today().year
    effective = await client.get(
        "/api/v1/monitoring-lines/effective",
        params={"region": "450226100201", "year": year},
        headers=headers,
    )
    assert effective.json()["amount"] == "9600.00"
    assert effective.json()["source"]["region_code"] == COUNTY
    targets = await client.get("/api/v1/employment-targets", params={"year": year}, headers=headers)
    assert {t["region_code"]: t["target"] for t in targets.json()["items"]} == (
        DEMO_TOWNSHIP_TARGETS
    )
