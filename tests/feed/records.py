"""Feed records made for tests, as the mapping would give them."""

from __future__ import annotations

import itertools
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal

from app.feed.records import FeedEmployment, FeedRecord
from app.households.id_number import check_digit

VILLAGE_A = "450226100201"
VILLAGE_B = "450226100202"
OTHER_TOWNSHIP_VILLAGE = "450226101201"
AT = datetime(2026, 11, 20, 2, 30, tzinfo=UTC)

_serial = itertools.count(1)


def id_number(serial: int) -> str:
    first17 = f"45022619850614{serial % 1000:03d}"
    return first17 + check_digit(first17)


def record(
    member_no: str,
    *,
    household_no: str = "H1",
    village: str = VILLAGE_A,
    relation: str = "户主",
    serial: int | None = None,
    employment: FeedEmployment | None = None,
    **changes: object,
) -> FeedRecord:
    made = FeedRecord(
        line=next(_serial),
        household_no=household_no,
        village_code=village,
        household_category="脱贫户",
        monitor_type=None,
        risk_types=("因病",),
        risk_eliminated=False,
        relocated=False,
        income_per_capita=Decimal("8000.00"),
        member_no=member_no,
        name="韦" + member_no,
        id_number=id_number(serial if serial is not None else int(member_no.strip("M") or 0)),
        relation=relation,
        phone="13800000000",
        labour_type="普通劳动力",
        employment=employment,
        updated_at=AT,
    )
    return replace(made, **changes)  # type: ignore[arg-type]


def month(status: str = "务工", *, period: str = "2026-11", months: int = 6) -> FeedEmployment:
    working = status == "务工"
    return FeedEmployment(
        period=period,
        status=status,
        region="县内" if working else None,
        channel="就业帮扶车间" if working else None,
        employer="某车间" if working else None,
        months=months if working else 0,
        income=Decimal("1500.00") if working else None,
    )
