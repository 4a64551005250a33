"""Arranging alert tests: villages and their staff, labourers with months of employment, runs
computed directly (as a worker would), and hits merged without the rules (the temporary tables
the engine fills, filled by hand)."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import insert, select, text

from app.alerts import episodes, history, runs
from app.alerts.models import Alert, AlertRun, AlertRunStatus, AlertRunTrigger
from app.alerts.settings_models import AlertRuleSetting
from app.auth.models import Role
from app.households.models import MemberEmployment
from app.policy.alerts import AlertRule
from tests.households.factories import PersonSpec, make_household

COUNTY = "450226000000"
TOWNSHIP = "450226100000"  # 古宜镇
VILLAGE = "450226100201"  # 大寨村
NEXT_VILLAGE = "450226100202"  # 龙吉村, the same township
OTHER_TOWNSHIP = "450226101000"  # 斗江镇
OTHER_VILLAGE = "450226101201"  # 斗江村


async def labourers(db, settings, village: str, count: int) -> list[uuid.UUID]:
    """`count` labourers of one new household in `village`."""
    _, members = await make_household(
        db, settings, village, [PersonSpec(f"劳动力{i}") for i in range(count)]
    )
    return [m.id for m in members]


async def months(db, member_id: uuid.UUID, worked: dict[str, bool]) -> None:
    """Employment rows of a member: {period: working}."""
    await db.execute(
        insert(MemberEmployment),
        [
            {
                "member_id": member_id,
                "period": period,
                "status": "务工" if working else "未务工",
                "work_region": "省外" if working else None,
                "employer": "广东某电子厂" if working else None,
                "source": "manual",
                "observed_at": datetime(2026, 1, 1, tzinfo=UTC),
            }
            for period, working in worked.items()
        ],
    )
    # Written past the member writer, as a bulk load would: its history is rebuilt the way a
    # bulk load rebuilds it.
    await db.execute(
        text(history.REBUILD_MEMBERS.replace("$1::uuid[]", "CAST(:members AS uuid[])")),
        {"members": [member_id]},
    )
    await db.commit()


async def compute(app, period: str, region: str = COUNTY) -> AlertRun:
    """A run of `period` over `region`, computed to its end as a worker would."""
    async with app.state.db.sessionmaker.begin() as session:
        run = AlertRun(
            period=period,
            region_code=region,
            trigger=AlertRunTrigger.manual,
            status=AlertRunStatus.queued,
        )
        session.add(run)
    await runs.execute(app.state.db, app.state.arq, run.id)
    async with app.state.db.sessionmaker() as session:
        done = await session.get(AlertRun, run.id)
        assert done is not None
        return done


@dataclass(frozen=True)
class Hit:
    member_id: uuid.UUID
    village: str = VILLAGE
    rule: str = "employment_lost"
    evidence: dict[str, Any] | None = None


async def merge(
    app,
    period: str,
    hits: list[Hit],
    *,
    evaluated: list[tuple[str, str]] | None = None,
    region: str = COUNTY,
) -> episodes.MergeCounts:
    """The merge of `hits` for `period`, the temporary tables filled by hand, committed."""
    pairs = evaluated if evaluated is not None else [(COUNTY, "employment_lost")]
    async with app.state.db.sessionmaker.begin() as session:
        await session.execute(
            text(
                "CREATE TEMPORARY TABLE alert_hit (rule varchar(32), subject varchar(36),"
                " county_code varchar(12), region_code varchar(12), household_id uuid,"
                " member_id uuid, evidence jsonb) ON COMMIT DROP"
            )
        )
        await session.execute(
            text(
                "CREATE TEMPORARY TABLE alert_evaluated (county_code varchar(12),"
                " rule varchar(32)) ON COMMIT DROP"
            )
        )
        for hit in hits:
            await session.execute(
                text(
                    "INSERT INTO alert_hit SELECT :rule, CAST(:member AS text), :county, :village,"
                    " m.household_id, m.id, CAST(:evidence AS jsonb) FROM member AS m"
                    " WHERE m.id = CAST(:member AS uuid)"
                ),
                {
                    "rule": hit.rule,
                    "member": str(hit.member_id),
                    "county": hit.village[:6] + "000000",
                    "village": hit.village,
                    "evidence": json.dumps(hit.evidence or {"n": 1}),
                },
            )
        for county, rule in pairs:
            await session.execute(
                text("INSERT INTO alert_evaluated VALUES (:county, :rule)"),
                {"county": county, "rule": rule},
            )
        return await episodes.merge(session, period=period, region_code=region)


async def all_alerts(db) -> list[Alert]:
    db.expire_all()
    return list((await db.scalars(select(Alert).order_by(Alert.created_at, Alert.id))).all())


@dataclass
class Staff:
    coordinator: dict[str, str]  # 大寨村
    coordinator_id: uuid.UUID
    other_coordinator: dict[str, str]  # 斗江村
    other_coordinator_id: uuid.UUID
    township: dict[str, str]  # 古宜镇
    township_id: uuid.UUID
    other_township: dict[str, str]  # 斗江镇
    county: dict[str, str]
    county_id: uuid.UUID
    admin: dict[str, str]
    villager: dict[str, str]


@pytest.fixture
async def staff(db, make_user, auth) -> Staff:
    coordinator = await make_user(Role.coordinator, [VILLAGE])
    other_coordinator = await make_user(Role.coordinator, [OTHER_VILLAGE])
    township = await make_user(Role.manager, [TOWNSHIP])
    other_township = await make_user(Role.manager, [OTHER_TOWNSHIP])
    county = await make_user(Role.manager, [COUNTY])
    admin = await make_user(Role.admin)
    villager = await make_user(Role.villager)
    return Staff(
        coordinator=auth(coordinator),
        coordinator_id=coordinator.id,
        other_coordinator=auth(other_coordinator),
        other_coordinator_id=other_coordinator.id,
        township=auth(township),
        township_id=township.id,
        other_township=auth(other_township),
        county=auth(county),
        county_id=county.id,
        admin=auth(admin),
        villager=auth(villager),
    )


async def an_alert(db, region_code: str, subject: str, **values: Any) -> Alert:
    """An alert row as a run would leave it (a regional one unless a member is given)."""
    period = values.pop("opened_period", "2026-09")
    alert = Alert(
        rule=values.pop("rule", "region_employment_drop"),
        subject=subject,
        kind="risk",
        county_code=region_code[:6] + "000000",
        region_code=region_code,
        status=values.pop("status", "open"),
        opened_period=period,
        last_period=values.pop("last_period", period),
        evidence=values.pop("evidence", {period: {"drop_percent": 12}}),
        **values,
    )
    db.add(alert)
    await db.commit()
    await db.refresh(alert)
    return alert


@pytest.fixture
async def only_employment_lost(db) -> None:
    """The test county evaluates employment_lost alone (its other rules switched off, as a
    county may): runs whose tests count episodes see only the months they arranged."""
    await db.execute(
        insert(AlertRuleSetting),
        [
            {"county_code": COUNTY, "rule": rule.value, "enabled": False}
            for rule in AlertRule
            if rule is not AlertRule.employment_lost
        ],
    )
    await db.commit()
