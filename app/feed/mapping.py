"""From a feed row to a `FeedRecord`: a minimal stand-in that reads well-formed HTTP records
only (no repairs, no spreadsheet headers); the full mapping replaces it."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

from app.feed.records import FeedEmployment, FeedRecord, RowError


def map_feed_record(raw: Mapping[str, Any], line: int) -> FeedRecord | list[RowError]:
    """`raw` (one HTTP record) as a `FeedRecord`, or why it was refused."""
    try:
        employment = raw["employment"]
        income = raw["income_per_capita"]
        return FeedRecord(
            line=line,
            household_no=str(raw["household_no"]),
            village_code=str(raw["village_code"]),
            household_category=str(raw["household_category"]),
            monitor_type=raw["monitor_type"],
            risk_types=tuple(raw["risk_types"]),
            risk_eliminated=bool(raw["risk_eliminated"]),
            relocated=bool(raw["relocated"]),
            income_per_capita=None if income is None else Decimal(str(income)),
            member_no=str(raw["member_no"]),
            name=str(raw["name"]),
            id_number=str(raw["id_number"]),
            relation=str(raw["relation"]),
            phone=raw["phone"],
            labour_type=str(raw["labour_type"]),
            employment=None
            if employment is None
            else FeedEmployment(
                period=str(employment["period"]),
                status=str(employment["status"]),
                region=employment["region"],
                channel=employment["channel"],
                employer=employment["employer"],
                months=int(employment["months"]),
                income=None if employment["income"] is None else Decimal(str(employment["income"])),
            ),
            updated_at=datetime.fromisoformat(raw["updated_at"]),
            deleted=bool(raw.get("deleted", False)),
        )
    except KeyError as exc:
        return [RowError(line, str(exc.args[0]), None, f"缺少字段 {exc.args[0]}")]
    except (TypeError, ValueError) as exc:
        return [RowError(line, None, None, f"字段格式不正确：{exc}")]
