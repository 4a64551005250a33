"""Import the official division code list (统计用区划代码) from csv, set-based.

Rows stream into a temporary table through COPY, orphans are reported, and one
INSERT … ON CONFLICT brings the region table in step: a million rows never sit in memory and
re-importing the same file changes nothing.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from app.core.scope import is_region_code, level_of, parent_of

CODE_HEADERS = ("code", "统计用区划代码", "区划代码", "行政区划代码")
NAME_HEADERS = ("name", "名称", "区划名称")
# Optional: a village's centre, for checking where visits were logged.
LAT_HEADERS = ("lat", "纬度")
LON_HEADERS = ("lon", "经度")
BATCH_ROWS = 10_000
DEMO_COUNTY_CSV = Path(__file__).parent / "data" / "demo_county.csv"


@dataclass
class ImportReport:
    read: int = 0
    inserted: int = 0
    updated: int = 0
    errors: list[tuple[int, str]] = field(default_factory=list)


def open_text(path: Path) -> io.TextIOWrapper:
    """Open a csv in UTF-8 (with or without BOM) or GB18030, whichever it is."""
    with path.open("rb") as probe:
        head = probe.read(64 * 1024)
    try:
        head.decode("utf-8")
        encoding = "utf-8-sig"
    except UnicodeDecodeError as exc:
        # A multi-byte character cut at the probe's end is still UTF-8.
        encoding = "utf-8-sig" if exc.start >= len(head) - 3 else "gb18030"
    return path.open(encoding=encoding, newline="")


def _column(header: list[str], names: tuple[str, ...]) -> int | None:
    cleaned = [h.strip().lower() for h in header]
    for name in names:
        if name in cleaned:
            return cleaned.index(name)
    return None


def _coordinate(row: list[str], column: int | None, low: float, high: float) -> float | None:
    if column is None or len(row) <= column or not row[column].strip():
        return None
    try:
        value = float(row[column])
    except ValueError:
        return None
    return value if low <= value <= high else None


def parse_rows(
    lines: Iterator[list[str]], report: ImportReport
) -> Iterator[tuple[str, str, str, str | None, float | None, float | None]]:
    header = next(lines, None)
    if header is None:
        return
    code_col, name_col = _column(header, CODE_HEADERS), _column(header, NAME_HEADERS)
    lat_col, lon_col = _column(header, LAT_HEADERS), _column(header, LON_HEADERS)
    if code_col is None or name_col is None:
        report.errors.append((1, "表头缺少“统计用区划代码”或“名称”列"))
        return
    for number, row in enumerate(lines, start=2):
        report.read += 1
        code = row[code_col].strip().strip("'") if len(row) > code_col else ""
        name = row[name_col].strip() if len(row) > name_col else ""
        if not is_region_code(code):
            report.errors.append((number, f"区划代码“{code}”不是12位数字"))
            continue
        if not name:
            report.errors.append((number, "名称为空"))
            continue
        lat, lon = _coordinate(row, lat_col, -90, 90), _coordinate(row, lon_col, -180, 180)
        if (lat is None) != (lon is None):
            lat = lon = None
        yield code, name[:100], level_of(code).value, parent_of(code), lat, lon


async def import_regions(connection: AsyncConnection, path: Path) -> ImportReport:
    report = ImportReport()
    await connection.execute(
        text(
            "CREATE TEMP TABLE region_import (line_no int, code varchar(12), name varchar(100),"
            " level varchar(16), parent_code varchar(12), centre_lat float8, centre_lon float8)"
            " ON COMMIT DROP"
        )
    )
    raw = (await connection.get_raw_connection()).driver_connection
    assert raw is not None
    with open_text(path) as handle:
        rows = parse_rows(iter(csv.reader(handle)), report)
        batch: list[tuple[object, ...]] = []
        for row in rows:
            batch.append((report.read + 1, *row))
            if len(batch) >= BATCH_ROWS:
                await raw.copy_records_to_table("region_import", records=batch)
                batch.clear()
        if batch:
            await raw.copy_records_to_table("region_import", records=batch)

    # A code listed twice: keep the last line, report the others.
    duplicates = await connection.execute(
        text(
            "DELETE FROM region_import r USING region_import later"
            " WHERE later.code = r.code AND later.line_no > r.line_no RETURNING r.line_no, r.code"
        )
    )
    report.errors += [
        (line, f"区划代码 {code} 重复出现，以后一行为准") for line, code in duplicates
    ]
    # Orphans: parent neither in the file nor already known. Removing one can orphan its
    # children, so repeat until nothing changes (at most once per level).
    while True:
        orphans = (
            await connection.execute(
                text(
                    "DELETE FROM region_import r WHERE r.parent_code IS NOT NULL"
                    " AND NOT EXISTS (SELECT 1 FROM region_import p WHERE p.code = r.parent_code)"
                    " AND NOT EXISTS (SELECT 1 FROM region p WHERE p.code = r.parent_code)"
                    " RETURNING r.line_no, r.code, r.parent_code"
                )
            )
        ).all()
        if not orphans:
            break
        report.errors += [
            (line, f"区划代码 {code} 的上级 {parent} 不存在") for line, code, parent in orphans
        ]
    result = await connection.execute(
        text(
            "INSERT INTO region (code, name, level, parent_code, centre_lat, centre_lon)"
            " SELECT code, name, level, parent_code, centre_lat, centre_lon FROM region_import"
            " ON CONFLICT (code) DO UPDATE SET name = EXCLUDED.name, level = EXCLUDED.level,"
            " parent_code = EXCLUDED.parent_code,"
            " centre_lat = coalesce(EXCLUDED.centre_lat, region.centre_lat),"
            " centre_lon = coalesce(EXCLUDED.centre_lon, region.centre_lon), updated_at = now()"
            " WHERE (region.name, region.level, region.parent_code, region.centre_lat,"
            " region.centre_lon) IS DISTINCT FROM (EXCLUDED.name, EXCLUDED.level,"
            " EXCLUDED.parent_code, coalesce(EXCLUDED.centre_lat, region.centre_lat),"
            " coalesce(EXCLUDED.centre_lon, region.centre_lon))"
            " RETURNING (xmax = 0) AS inserted"
        )
    )
    flags = [inserted for (inserted,) in result]
    report.inserted = sum(flags)
    report.updated = len(flags) - report.inserted
    report.errors.sort()
    return report
