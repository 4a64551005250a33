"""The episode merge, on hits filled by hand: one alert per condition while it lasts, its
months and evidence by month, auto-resolve, a returning condition, reruns that write nothing,
and the recompute of the latest month."""

from __future__ import annotations

from sqlalchemy import update

from app.alerts.models import Alert
from tests.alerts.conftest import (
    COUNTY,
    OTHER_VILLAGE,
    TOWNSHIP,
    VILLAGE,
    Hit,
    all_alerts,
    labourers,
    merge,
)


async def test_an_episode_lasts_three_months_then_resolves_itself(app, db, settings):
    (member,) = await labourers(db, settings, VILLAGE, 1)
    for month, period in enumerate(("2026-08", "2026-09", "2026-10"), start=1):
        counts = await merge(app, period, [Hit(member, evidence={"month": month})])
        (alert,) = await all_alerts(db)
        assert (alert.status, alert.opened_period, alert.last_period) == ("open", "2026-08", period)
        assert alert.ended_period is None and alert.months == month
        assert (counts.opened, counts.continued, counts.ended) == (
            (1, 0, 0) if month == 1 else (0, 1, 0)
        )
    assert alert.evidence == {
        "2026-08": {"month": 1},
        "2026-09": {"month": 2},
        "2026-10": {"month": 3},
    }
    assert (alert.rule, alert.subject, alert.member_id) == ("employment_lost", str(member), member)
    assert (alert.region_code, alert.county_code, alert.kind) == (VILLAGE, COUNTY, "risk")

    counts = await merge(app, "2026-11", [])
    (ended,) = await all_alerts(db)
    assert ended.id == alert.id
    assert (ended.status, ended.ended_period, ended.last_period, ended.months) == (
        "auto_resolved",
        "2026-11",
        "2026-10",
        3,
    )
    assert counts.ended == 1


async def test_a_condition_that_returns_opens_a_new_alert(app, db, settings):
    (member,) = await labourers(db, settings, VILLAGE, 1)
    await merge(app, "2026-08", [Hit(member)])
    await merge(app, "2026-09", [])
    await merge(app, "2026-10", [])
    counts = await merge(app, "2026-11", [Hit(member)])
    first, second = await all_alerts(db)
    assert counts.opened == 1
    assert (first.status, first.opened_period, first.ended_period) == (
        "auto_resolved",
        "2026-08",
        "2026-09",
    )
    assert (second.status, second.opened_period, second.ended_period, second.months) == (
        "open",
        "2026-11",
        None,
        1,
    )


async def test_a_rerun_of_the_same_month_on_the_same_data_writes_nothing(app, db, settings):
    members = await labourers(db, settings, VILLAGE, 3)
    await merge(app, "2026-09", [Hit(m) for m in members])
    await merge(app, "2026-10", [Hit(m) for m in members[:2]])
    before = {(a.id, a.version, a.updated_at) for a in await all_alerts(db)}
    counts = await merge(app, "2026-10", [Hit(m) for m in members[:2]])
    assert (counts.opened, counts.continued, counts.ended) == (0, 2, 0)
    assert {(a.id, a.version, a.updated_at) for a in await all_alerts(db)} == before
    # Changed figures for the month are taken, and only by the alerts they concern.
    await merge(app, "2026-10", [Hit(members[0], evidence={"n": 2}), Hit(members[1])])
    after = {a.subject: a for a in await all_alerts(db)}
    assert after[str(members[0])].evidence["2026-10"] == {"n": 2}
    assert after[str(members[0])].version == 3
    assert after[str(members[1])].version == 2


async def test_a_resolved_alert_keeps_counting_while_its_condition_holds(app, db, settings):
    (member,) = await labourers(db, settings, VILLAGE, 1)
    await merge(app, "2026-08", [Hit(member)])
    (alert,) = await all_alerts(db)
    await db.execute(
        update(Alert)
        .where(Alert.id == alert.id)
        .values(status="resolved", resolved_at=alert.created_at, resolution_action="职业指导")
    )
    await db.commit()
    await merge(app, "2026-09", [Hit(member)])
    await merge(app, "2026-10", [Hit(member)])
    (alert,) = await all_alerts(db)
    assert (alert.status, alert.months, alert.ended_period) == ("resolved", 3, None)
    await merge(app, "2026-11", [])
    (alert,) = await all_alerts(db)
    assert (alert.status, alert.ended_period) == ("resolved", "2026-11")
    await merge(app, "2026-12", [Hit(member)])
    old, new = await all_alerts(db)
    assert old.id == alert.id and (new.status, new.opened_period) == ("open", "2026-12")


async def test_an_acknowledged_alert_resolves_itself_when_the_condition_stops(app, db, settings):
    (member,) = await labourers(db, settings, VILLAGE, 1)
    await merge(app, "2026-08", [Hit(member)])
    (alert,) = await all_alerts(db)
    await db.execute(
        update(Alert)
        .where(Alert.id == alert.id)
        .values(status="acknowledged", acknowledged_at=alert.created_at)
    )
    await db.commit()
    await merge(app, "2026-09", [])
    (alert,) = await all_alerts(db)
    assert (alert.status, alert.ended_period) == ("auto_resolved", "2026-09")


async def test_only_evaluated_pairs_in_the_runs_region_are_ended(app, db, settings):
    (here,) = await labourers(db, settings, VILLAGE, 1)
    (there,) = await labourers(db, settings, OTHER_VILLAGE, 1)
    await merge(app, "2026-08", [Hit(here), Hit(there, village=OTHER_VILLAGE)])
    # A run of the township 古宜镇: 斗江村's alert is outside it.
    await merge(app, "2026-09", [], region=TOWNSHIP)
    states = {a.subject: a.status for a in await all_alerts(db)}
    assert states == {str(here): "auto_resolved", str(there): "open"}
    # A run in which the rule was not evaluated (disabled in the county) ends nothing.
    await merge(app, "2026-09", [], evaluated=[])
    assert {a.subject: a.status for a in await all_alerts(db)}[str(there)] == "open"


async def test_recomputing_the_latest_month_follows_the_data(app, db, settings):
    kept, withdrawn, stopped = await labourers(db, settings, VILLAGE, 3)
    await merge(app, "2026-08", [Hit(kept), Hit(stopped)])
    await merge(app, "2026-09", [Hit(kept), Hit(withdrawn), Hit(stopped)])
    # The month is computed again after corrections: `withdrawn` was never out of work in
    # 2026-09, and `stopped` found work in it.
    counts = await merge(app, "2026-09", [Hit(kept)])
    alerts = {a.subject: a for a in await all_alerts(db)}
    assert set(alerts) == {str(kept), str(stopped)}  # the untouched new one is withdrawn
    assert counts.ended == 2
    gone = alerts[str(stopped)]
    assert (gone.status, gone.ended_period, gone.last_period, gone.months) == (
        "auto_resolved",
        "2026-09",
        "2026-08",
        1,
    )
    assert set(gone.evidence) == {"2026-08"}
    # Corrected back: the alert ended in 2026-09 is taken back, not opened again.
    counts = await merge(app, "2026-09", [Hit(kept), Hit(stopped)])
    alerts = {a.subject: a for a in await all_alerts(db)}
    back = alerts[str(stopped)]
    assert back.id == gone.id and counts.opened == 0
    assert (back.status, back.ended_period, back.last_period, back.months) == (
        "open",
        None,
        "2026-09",
        2,
    )
