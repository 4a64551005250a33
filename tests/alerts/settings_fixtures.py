"""Shared arrangements of the alert settings and watch-list tests: the demo county's regions, a
second county of the same city, callers of every role and level, and months of employment
written straight into `member_employment`."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import insert, select, text

from app.alerts import history
from app.audit.models import AuditEvent
from app.auth.models import Role
from app.core.periods import shift_period
from app.households.models import MemberEmployment, MemberIntent
from app.regions.models import Region

PROVINCE = "450000000000"
CITY = "450200000000"
COUNTY = "450226000000"
TOWNSHIP = "450226100000"
VILLAGE = "450226100201"
SIBLING_VILLAGE = "450226100202"  # same township
OTHER_TOWNSHIP = "450226101000"
OTHER_TOWNSHIP_VILLAGE = "450226101201"
OTHER_COUNTY = "450224000000"
OTHER_COUNTY_TOWNSHIP = "450224100000"
OTHER_COUNTY_VILLAGE = "450224100201"

OBSERVED_AT = datetime(2026, 10, 20, 9, 30, tzinfo=UTC)


async def add_other_county(db) -> None:
    await db.execute(
        insert(Region),
        [
            {"code": OTHER_COUNTY, "name": "融安县", "level": "county", "parent_code": CITY},
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


async def make_callers(db, make_user, auth) -> dict[str, dict[str, str]]:
    """The second county, and headers of a caller of each role and level, by name (each test
    module's `callers` fixture)."""
    await add_other_county(db)
    return {
        "coordinator": auth(await make_user(Role.coordinator, [VILLAGE])),
        "sibling coordinator": auth(await make_user(Role.coordinator, [SIBLING_VILLAGE])),
        "township": auth(await make_user(Role.manager, [TOWNSHIP])),
        "other township": auth(await make_user(Role.manager, [OTHER_TOWNSHIP])),
        "county": auth(await make_user(Role.manager, [COUNTY])),
        "other county": auth(await make_user(Role.manager, [OTHER_COUNTY])),
        "province": auth(await make_user(Role.manager, [PROVINCE])),
        "admin": auth(await make_user(Role.admin)),
        "villager": auth(await make_user(Role.villager)),
    }


async def audit_events(db, entity: str, entity_id) -> list[AuditEvent]:
    return list(
        (
            await db.scalars(
                select(AuditEvent)
                .where(AuditEvent.entity == entity, AuditEvent.entity_id == entity_id)
                .order_by(AuditEvent.occurred_at)
            )
        ).all()
    )


async def write_months(db, member_id, months: dict[str, dict[str, Any] | str]) -> None:
    """Months of one member, each `{status, work_region, channel, employer, income}` or just a
    status; committed."""
    rows = []
    for period, value in months.items():
        spec: dict[str, Any] = {"status": value} if isinstance(value, str) else dict(value)
        working = spec.get("status", "务工") == "务工"
        income = spec.get("income")
        rows.append(
            {
                "member_id": member_id,
                "period": period,
                "status": spec.get("status", "务工"),
                "work_region": spec.get("work_region", "县内" if working else None),
                "channel": spec.get("channel", "外出务工" if working else None),
                "employer": spec.get("employer"),
                "months": 1 if working else 0,
                "income": Decimal(str(income)) if income is not None else None,
                "source": "manual",
                "observed_at": OBSERVED_AT,
            }
        )
    await db.execute(insert(MemberEmployment), rows)
    # Past the member writer, as a bulk load writes: the history is rebuilt as a bulk load's.
    await db.execute(
        text(history.REBUILD_MEMBERS.replace("$1::uuid[]", "CAST(:members AS uuid[])")),
        {"members": [member_id]},
    )
    await db.commit()


async def write_intent(db, member_id, intent: str, reason: str | None = None) -> None:
    await db.execute(
        insert(MemberIntent),
        [
            {
                "member_id": member_id,
                "intent": intent,
                "reason": reason,
                "source": "visit",
                "observed_at": OBSERVED_AT,
            }
        ],
    )
    await db.commit()


def periods(last: str, count: int) -> list[str]:
    """The `count` months ending with `last`, oldest first."""
    return [shift_period(last, -i) for i in reversed(range(count))]
