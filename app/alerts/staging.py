"""What a run of the alert rules reads besides the people: each county's thresholds, each
village's monitoring line for the year, and each region's employment target, staged in
temporary tables (dropped at commit) that the rules' statements join (`app.alerts.engine`).

- `alert_county`: one row per county under the region, a column per rule's switch
  (`<rule>__on`) and per threshold (`<rule>__<threshold>`): the policy's defaults
  (`app.policy.alerts.RULES`) overlaid with what the county set (`alert_rule_setting.params`).
- `alert_village`: every village under the region, with its township, county and the
  monitoring line of the year: the line of the nearest region up the tree (village, township,
  county, city, province) that has one for the year, a fixed amount or 低保 × multiple; none
  when no region up the tree has one.
- `alert_target`: each township's and village's employment target for the year.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import asyncpg

from app.alerts.lines import nearest_line_sql
from app.core.scope import LEVEL_DIGITS, RegionLevel, code_range, is_region_code, level_of
from app.policy.alerts import RULES, AlertRule


def switch_column(rule: AlertRule) -> str:
    return f"{rule.value}__on"


def threshold_column(rule: AlertRule, name: str) -> str:
    return f"{rule.value}__{name}"


@dataclass(frozen=True, slots=True)
class Staged:
    counties: list[str]
    # Per county, the rules it evaluates.
    enabled: dict[str, frozenset[AlertRule]]
    # `alert_county`'s rows as a VALUES list (`c`), for a statement that must not read a
    # temporary table to run in parallel workers (`app.alerts.engine`, the member pass).
    inline: str


def _literal(value: object) -> str:
    """A county code or a threshold as SQL: only values this module made (a code checked
    as 12 digits, an int, a bool) ever reach it."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str) and is_region_code(value):
        return f"'{value}'"
    raise ValueError(f"not a staged value: {value!r}")


def _inline(columns: list[tuple[str, str]], records: list[tuple[object, ...]]) -> str:
    names = ["county_code", *(name for name, _ in columns)]
    if not records:  # no county: a relation of the same columns without rows
        nulls = ", ".join(
            f"NULL::{kind}" for kind in ["varchar(12)", *(kind for _, kind in columns)]
        )
        return f"(SELECT {nulls} WHERE false) AS c({', '.join(names)})"
    rows = ",\n    ".join(f"({', '.join(_literal(v) for v in r)})" for r in records)
    return f"(VALUES {rows}) AS c({', '.join(names)})"


def _columns() -> list[tuple[str, str]]:
    columns: list[tuple[str, str]] = []
    for rule, spec in RULES.items():
        columns.append((switch_column(rule), "boolean"))
        for threshold in spec.thresholds:
            kind = "boolean" if isinstance(threshold.default, bool) else "integer"
            columns.append((threshold_column(rule, threshold.name), kind))
    return columns


def _setting(spec_default: int | bool, value: Any) -> int | bool:
    """A county's value for a threshold, as the threshold's type; a value of the wrong type
    (not stored by the settings API) falls back to the default."""
    if isinstance(spec_default, bool):
        return value if isinstance(value, bool) else spec_default
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    return spec_default


def county_of(code: str) -> str:
    return code[: LEVEL_DIGITS[RegionLevel.county]].ljust(12, "0")


async def counties_under(connection: asyncpg.Connection, region_code: str) -> list[str]:
    """The counties a region's population lives in: the counties under it, or the one it lies
    in (a township or a village)."""
    level = level_of(region_code)
    if level in (RegionLevel.township, RegionLevel.village, RegionLevel.county):
        return [county_of(region_code)]
    low, high = code_range(region_code)
    rows = await connection.fetch(
        "SELECT code FROM region WHERE level = 'county' AND code BETWEEN $1 AND $2 ORDER BY code",
        low,
        high,
    )
    return [row["code"] for row in rows]


async def stage(connection: asyncpg.Connection, *, region_code: str, year: int) -> Staged:
    counties = await counties_under(connection, region_code)
    settings = await connection.fetch(
        "SELECT county_code, rule, enabled, params FROM alert_rule_setting"
        " WHERE county_code = ANY ($1::varchar[])",
        counties,
    )
    by_county: dict[tuple[str, str], tuple[bool, dict[str, Any]]] = {}
    for row in settings:
        params = row["params"]
        if isinstance(params, str):  # asyncpg answers jsonb as text without a codec
            params = json.loads(params)
        by_county[(row["county_code"], row["rule"])] = (row["enabled"], params or {})

    columns = _columns()
    records: list[tuple[object, ...]] = []
    enabled: dict[str, frozenset[AlertRule]] = {}
    for county in counties:
        values: list[object] = [county]
        on: set[AlertRule] = set()
        for rule, spec in RULES.items():
            switch, params = by_county.get((county, rule.value), (True, {}))
            values.append(switch)
            if switch:
                on.add(rule)
            for threshold in spec.thresholds:
                values.append(_setting(threshold.default, params.get(threshold.name)))
        records.append(tuple(values))
        enabled[county] = frozenset(on)

    for table in ("alert_county", "alert_village", "alert_target"):
        await connection.execute(f"DROP TABLE IF EXISTS pg_temp.{table}")
    definition = ", ".join(f"{name} {kind} NOT NULL" for name, kind in columns)
    await connection.execute(
        f"CREATE TEMP TABLE alert_county (county_code varchar(12) PRIMARY KEY, {definition})"
        " ON COMMIT DROP"
    )
    await connection.copy_records_to_table(
        "alert_county", records=records, columns=["county_code", *(n for n, _ in columns)]
    )

    low, high = code_range(region_code)
    await connection.execute(_VILLAGES, low, high, year)
    await connection.execute(_TARGETS, low, high, year)
    await connection.execute("ANALYZE alert_county; ANALYZE alert_village; ANALYZE alert_target")
    return Staged(counties=counties, enabled=enabled, inline=_inline(columns, records))


# The nearest line up the tree (a village's own, its township's, county's, city's, province's),
# by the one statement of that rule (`app.alerts.lines.nearest_line_sql`).
_VILLAGES = """
CREATE TEMP TABLE alert_village ON COMMIT DROP AS
SELECT v.code AS village_code,
    rpad(left(v.code, 9), 12, '0')::varchar(12) AS township_code,
    rpad(left(v.code, 6), 12, '0')::varchar(12) AS county_code,
    <nearest_line> AS line
FROM region AS v
WHERE v.level = 'village' AND v.code BETWEEN $1 AND $2
""".replace("<nearest_line>", nearest_line_sql("v.code", "$3"))

_TARGETS = """
CREATE TEMP TABLE alert_target ON COMMIT DROP AS
SELECT t.region_code, t.target
FROM employment_target AS t
JOIN region AS r ON r.code = t.region_code
WHERE t.year = $3 AND t.region_code BETWEEN $1 AND $2 AND r.level IN ('township', 'village')
"""
