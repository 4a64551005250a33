"""Each alert rule fires for exactly the people, households and regions it should, in a
hand-built village (`tests.alerts.village`), boundaries included."""

from __future__ import annotations

from typing import Any

import pytest

from app.alerts.engine import evaluate
from app.core.db import session_driver_connection
from app.policy.alerts import AlertRule
from tests.alerts import village as v

R = AlertRule


@pytest.fixture
async def built(app, db, settings) -> v.Village:
    return await v.build(app, db, settings)


async def _run(app: Any, region: str, **kwargs: Any) -> tuple[dict, dict, set, dict]:
    """Evaluates in a session of its own; answers the counts, the hits by rule (subject →
    evidence), the pairs evaluated, and each hit's row."""
    calls: list[tuple[AlertRule, int]] = []

    async def on_rule(rule: AlertRule, hits: int) -> None:
        calls.append((rule, hits))

    async with app.state.db.sessionmaker() as session:
        counts = await evaluate(
            session, period=kwargs.get("period", v.PERIOD), region_code=region,
            now=kwargs.get("now", v.NOW), on_rule=on_rule,
        )  # fmt: skip
        connection = await session_driver_connection(session)
        rows = await connection.fetch("SELECT * FROM alert_hit")
        evaluated = {
            (r["county_code"], r["rule"])
            for r in await connection.fetch("SELECT * FROM alert_evaluated")
        }
        await session.rollback()
    hits: dict[AlertRule, dict[str, Any]] = {rule: {} for rule in AlertRule}
    for row in rows:
        hits[AlertRule(row["rule"])][row["subject"]] = row
    assert dict(calls) == counts and len(calls) == len(AlertRule)
    assert {rule: len(found) for rule, found in hits.items()} == counts
    return counts, hits, evaluated, {}


async def test_each_rule_fires_for_exactly_its_people(app, built):
    _, hits, evaluated, _ = await _run(app, v.CITY)
    subjects = {rule: set(found) for rule, found in hits.items()}
    s = built.subjects
    assert subjects[R.employment_lost] == s("lost", "returned", "dz_lost0", "dz_lost1", "bj_lost")
    assert subjects[R.returned_home] == s("returned")
    assert subjects[R.unstable_employment] == s("away5", "changer3")
    assert subjects[R.subsidy_eligible] == s("away6", "flexible3")
    assert subjects[R.intent_unassisted] == s(
        "intent_none_pushed", "intent_short", "intent_late", "intent_unrecorded"
    )
    assert subjects[R.training_overdue] == s("trainee_overdue", "trainee_enrolled_before")
    assert subjects[R.zero_employment_household] == s("h_zero", "h_other_farming")
    assert subjects[R.income_drop] == s("h_income_drop")
    assert subjects[R.below_monitoring_line] == s("h_below", "h_township_line")
    assert subjects[R.visit_overdue] == s(
        "h_zero", "h_visit_old", "h_visit_after_cutoff", "h_never_visited"
    )
    assert subjects[R.data_inconsistent] == s("h_conflict_old", "h_finding_old")
    # Every county of the city, every rule, but the one the other county switched off.
    assert (v.OTHER_COUNTY, R.employment_lost.value) not in evaluated
    assert (v.COUNTY, R.employment_lost.value) in evaluated
    assert len(evaluated) == 2 * len(AlertRule) - 1


async def test_hits_link_their_household_member_and_village(app, built):
    _, hits, _, _ = await _run(app, v.CITY)
    lost = hits[R.employment_lost][str(built.people["lost"])]
    assert lost["member_id"] == built.people["lost"]
    assert lost["household_id"] == built.homes["h_members"]
    assert (lost["region_code"], lost["county_code"]) == (v.VILLAGE, v.COUNTY)
    home = hits[R.below_monitoring_line][str(built.homes["h_township_line"])]
    assert home["member_id"] is None and home["household_id"] == built.homes["h_township_line"]
    assert home["region_code"] == v.DOUJIANG_VILLAGE


async def test_evidence_holds_the_figures(app, built):
    _, hits, _, _ = await _run(app, v.CITY)

    def evidence(rule: AlertRule, key: str) -> dict[str, Any]:
        import json

        subject = str(built.people.get(key) or built.homes[key])
        value = hits[rule][subject]["evidence"]
        return json.loads(value) if isinstance(value, str) else value

    training = evidence(R.training_overdue, "trainee_overdue")
    assert training["request_id"] == str(built.requests["trainee_overdue"])
    assert training["accepted_at"] == "2026-10-10T09:00:00+08:00"
    assert (training["days"], training["limit_days"]) == (21, 15)
    assert evidence(R.unstable_employment, "changer3")["employer_changes"] == 3
    assert evidence(R.unstable_employment, "away5")["months_employed"] == 5
    assert evidence(R.subsidy_eligible, "away6") == {
        "period": "2026-10", "basis": "away", "months": 6,
    }  # fmt: skip
    assert evidence(R.subsidy_eligible, "flexible3")["basis"] == "flexible"
    income = evidence(R.income_drop, "h_income_drop")
    assert (income["income_this_year"], income["income_last_year"]) == (20000, 30000)
    line = evidence(R.below_monitoring_line, "h_township_line")
    assert (float(line["line"]), float(line["income_per_capita"])) == (8000.0, 7500.0)
    assert evidence(R.intent_unassisted, "intent_short")["full_rounds"] == 2
    visit = evidence(R.visit_overdue, "h_visit_after_cutoff")
    assert visit["last_visit_at"] == "2026-09-01T10:00:00+08:00"
    assert evidence(R.visit_overdue, "h_never_visited")["last_visit_at"] is None
    stale = evidence(R.data_inconsistent, "h_conflict_old")
    assert (stale["conflicts"], stale["findings"]) == (1, 0)


async def test_regional_rules_for_each_township_and_village(app, built):
    _, hits, evaluated, _ = await _run(app, v.DANZHOU)
    assert set(hits[R.region_employment_drop]) == {v.DANZHOU_VILLAGE, v.DANZHOU}
    assert set(hits[R.region_behind_target]) == {v.BANJIANG_VILLAGE, v.HONGLU_VILLAGE, v.DANZHOU}
    drop = hits[R.region_employment_drop][v.DANZHOU]
    assert (drop["region_code"], drop["county_code"]) == (v.DANZHOU, v.COUNTY)
    assert drop["household_id"] is None and drop["member_id"] is None
    # Only the township's people: the village's lost labourers, and no one else's.
    assert set(hits[R.employment_lost]) == built.subjects("dz_lost0", "dz_lost1", "bj_lost")
    assert {county for county, _ in evaluated} == {v.COUNTY}


async def test_a_village_run_reads_only_its_village(app, built):
    _, hits, _, _ = await _run(app, v.LINE_VILLAGE)
    assert all(not found for rule, found in hits.items() if rule is not R.region_behind_target)


async def test_a_county_threshold_changes_who_fires(app, built, db):
    from sqlalchemy import text

    # The other county asks 5 months in a row away instead of 6; ours asks 4 changes.
    await db.execute(
        text(
            "INSERT INTO alert_rule_setting (county_code, rule, params) VALUES"
            " (:county, 'unstable_employment', '{\"max_employer_changes\": 4}'),"
            " (:county, 'subsidy_eligible', '{\"away_months\": 5}')"
        ),
        {"county": v.COUNTY},
    )
    await db.commit()
    _, hits, _, _ = await _run(app, v.CITY)
    assert set(hits[R.unstable_employment]) == built.subjects("away5")
    assert set(hits[R.subsidy_eligible]) == built.subjects("away6", "away5", "flexible3")


async def test_a_disabled_rule_is_neither_evaluated_nor_fired(app, built, db):
    from sqlalchemy import text

    await db.execute(
        text(
            "INSERT INTO alert_rule_setting (county_code, rule, enabled) VALUES"
            " (:county, 'visit_overdue', false)"
        ),
        {"county": v.COUNTY},
    )
    await db.commit()
    counts, hits, evaluated, _ = await _run(app, v.CITY)
    assert counts[R.visit_overdue] == 0 and not hits[R.visit_overdue]
    assert (v.COUNTY, R.visit_overdue.value) not in evaluated
    assert (v.OTHER_COUNTY, R.visit_overdue.value) in evaluated


async def test_the_running_month_counts_to_now(app, built):
    """While October runs (now: 20 October, 12:00 Shanghai), days count to now: the request
    accepted on the 10th is not 15 days old yet, the visit of 1 October is 19 days old, and
    visits after now are not made yet."""
    now = v.sh("2026-10-20 12:00")
    _, hits, _, _ = await _run(app, v.CITY, now=now)
    assert set(hits[R.training_overdue]) == built.subjects("trainee_enrolled_before")
    assert set(hits[R.visit_overdue]) == built.subjects(
        "h_zero", "h_never_visited", "h_visit_month_end", "h_visit_after_cutoff"
    )


async def test_deleted_members_are_not_in_the_run(app, built, db):
    from sqlalchemy import text

    await db.execute(
        text("UPDATE member SET deleted_at = now() WHERE id = :id"), {"id": built.people["lost"]}
    )
    await db.commit()
    _, hits, _, _ = await _run(app, v.CITY)
    assert str(built.people["lost"]) not in hits[R.employment_lost]
    assert str(built.people["returned"]) in hits[R.employment_lost]


async def test_an_earlier_period_reads_the_same_history(app, built):
    """September 2026: those lost in October were still working, and the one back from 省外
    had worked away eleven months in a row; October's records change nothing of it."""
    _, hits, _, _ = await _run(app, v.CITY, period="2026-09")
    assert not hits[R.employment_lost]
    assert set(hits[R.subsidy_eligible]) == built.subjects("returned")
