"""Episodes across real runs: a condition held three months then gone, one that returns, each
month's run and digest in between."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select, text

from app.alerts import runs
from app.notifications.models import Notification
from tests.alerts.conftest import COUNTY, VILLAGE, all_alerts, compute, labourers, months

# Only the months each test arranges raise alerts.
pytestmark = pytest.mark.usefixtures("only_employment_lost")


async def test_an_episode_over_three_runs_then_auto_resolved(app, db, settings, staff, monkeypatch):
    (member,) = await labourers(db, settings, VILLAGE, 1)
    held = {"2026-08": 1, "2026-09": 2, "2026-10": 3}  # the months the condition holds
    evaluate = runs.engine.evaluate

    async def rules(session, *, period, region_code, now, on_rule=None):
        """The real engine's tables, and this test's one condition instead of its rules."""
        await evaluate(session, period=period, region_code=region_code, now=now)
        await session.execute(text("DELETE FROM alert_hit"))
        if period in held:
            await session.execute(
                text(
                    "INSERT INTO alert_hit SELECT 'employment_lost', CAST(m.id AS text),"
                    " :county, :village, m.household_id, m.id, CAST(:evidence AS jsonb)"
                    " FROM member AS m WHERE m.id = CAST(:member AS uuid)"
                ),
                {"county": COUNTY, "village": VILLAGE, "member": str(member),
                 "evidence": json.dumps({"month": held[period]})},
            )  # fmt: skip
        return {}

    monkeypatch.setattr(runs.engine, "evaluate", rules)
    for period, month in held.items():
        run = await compute(app, period)
        (alert,) = await all_alerts(db)
        assert (alert.status, alert.months, alert.last_period) == ("open", month, period)
        assert (run.opened, run.continued) == ((1, 0) if month == 1 else (0, 1))
    assert sorted(alert.evidence) == list(held)
    run = await compute(app, "2026-11")
    (alert,) = await all_alerts(db)
    assert (alert.status, alert.ended_period, alert.months, run.ended) == (
        "auto_resolved", "2026-11", 3, 1,
    )  # fmt: skip
    # The coordinator heard once, when it opened.
    told = await db.scalar(select(func.count()).select_from(Notification))
    assert told == 1


async def test_employment_lost_again_opens_a_new_alert(app, db, settings, staff):
    (member,) = await labourers(db, settings, VILLAGE, 1)
    await months(
        db, member,
        {"2026-07": True, "2026-08": False, "2026-09": False, "2026-10": True, "2026-11": False},
    )  # fmt: skip
    for period in ("2026-08", "2026-09", "2026-10", "2026-11"):
        await compute(app, period)
    first, second = await all_alerts(db)
    assert (first.opened_period, first.ended_period, first.status) == (
        "2026-08", "2026-09", "auto_resolved",
    )  # fmt: skip
    assert (second.opened_period, second.ended_period, second.status) == ("2026-11", None, "open")
    assert await db.scalar(select(func.count()).select_from(Notification)) == 2
