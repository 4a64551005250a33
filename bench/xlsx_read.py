"""xlsx readers compared: openpyxl's read-only mode against python-calamine, in the same run.

    .venv/bin/python bench/xlsx_read.py [--rows 100000] [--file PATH] [--keep]

Writes (streaming, openpyxl's write-only mode) an export of `--rows` people with two title rows
above the header and the 21 columns of FEED.md §2, then reads it with each reader in a fresh
child process, each doing the same work: every cell of every row, as the spreadsheet adapter
needs them. Prints rows per second and the child's peak RSS for each, and the file's size.
`--mapped` also runs `SpreadsheetSource` end to end (read, find the header, map and validate).
The issue asks for the faster reader, under 500 MB at any size.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app.feed.mapping import SHEET_COLUMNS
from app.households.id_number import check_digit

CHANNELS = ["外出务工", "公益性岗位", "就业帮扶车间", "灵活就业", "自主创业", "务农"]
REGIONS = ["省外", "省内县外", "县内"]
RELATIONS = ["户主", "配偶", "之子", "之女"]


def person(index: int) -> list[object]:
    household = index // 4
    first17 = (
        f"450226{1950 + index % 60:04d}{1 + index % 12:02d}{1 + index % 28:02d}{index % 1000:03d}"
    )
    working = index % 3 != 0
    return [
        f"H{household:010d}",
        f"450226{household % 200:03d}{household % 7:03d}",
        "脱贫户" if household % 2 else "监测户",
        None if household % 2 else "边缘易致贫户",
        "因病、因学" if household % 5 == 0 else "",
        "否",
        "是" if household % 9 == 0 else "否",
        8000 + household % 5000 + 0.5,
        f"M{index:012d}",
        f"姓名{index % 997}",
        first17 + check_digit(first17),
        RELATIONS[index % 4],
        f"1{index % 10**10:010d}",
        "普通劳动力",
        "务工" if working else "未务工",
        REGIONS[index % 3] if working else None,
        CHANNELS[index % 6] if working else None,
        f"某某公司{index % 101}" if working else None,
        6 if working else 0,
        3500.0 if working else None,
        "2026-11",
    ]


def write(path: Path, rows: int) -> None:
    from openpyxl import Workbook

    book = Workbook(write_only=True)
    sheet = book.create_sheet("监测对象")
    sheet.append(["防返贫监测对象信息表"])
    sheet.append(["导出时间：2026-11-30"])
    sheet.append(list(SHEET_COLUMNS))
    for index in range(rows):
        sheet.append(person(index))
    book.save(path)


def read_openpyxl(path: Path) -> int:
    from openpyxl import load_workbook

    book = load_workbook(path, read_only=True, data_only=True)
    count = 0
    for row in book.worksheets[0].iter_rows(values_only=True):
        count += len(row) > 0
    book.close()
    return count


def read_calamine(path: Path) -> int:
    from python_calamine import CalamineWorkbook

    with CalamineWorkbook.from_path(str(path)) as book:
        count = 0
        for row in book.get_sheet_by_index(0).iter_rows():
            count += len(row) > 0
    return count


def read_mapped(path: Path) -> int:
    import asyncio

    from app.feed.spreadsheet import SpreadsheetSource

    async def run() -> int:
        count = 0
        async for batch in SpreadsheetSource(path).batches(None):
            count += len(batch.records) + len(batch.errors)
        return count

    return asyncio.run(run())


READERS = {"openpyxl": read_openpyxl, "calamine": read_calamine, "mapped": read_mapped}


def child(reader: str, path: Path) -> None:
    started = time.perf_counter()
    rows = READERS[reader](path)
    elapsed = time.perf_counter() - started
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"rows": rows, "seconds": elapsed, "peak_mb": peak_kb / 1024}))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--file", type=Path)
    parser.add_argument("--keep", action="store_true")
    parser.add_argument("--mapped", action="store_true")
    parser.add_argument("--child", choices=list(READERS))
    args = parser.parse_args()
    if args.child:
        child(args.child, args.file)
        return
    path = args.file or Path(tempfile.mkstemp(suffix=".xlsx")[1])
    if not (args.file and path.exists() and path.stat().st_size):
        started = time.perf_counter()
        write(path, args.rows)
        print(f"wrote {args.rows} rows in {time.perf_counter() - started:.1f}s", file=sys.stderr)
    print(f"file: {path} ({path.stat().st_size / 2**20:.1f} MiB)")
    readers = ["openpyxl", "calamine"] + (["mapped"] if args.mapped else [])
    try:
        for reader in readers:
            out = subprocess.run(
                [sys.executable, __file__, "--child", reader, "--file", str(path)],
                check=True,
                capture_output=True,
                text=True,
            ).stdout
            result = json.loads(out)
            print(
                f"{reader:9} {result['rows']:>9} rows  {result['seconds']:7.2f} s  "
                f"{result['rows'] / result['seconds']:>9,.0f} rows/s  "
                f"peak RSS {result['peak_mb']:6.0f} MB"
            )
    finally:
        if not (args.keep or args.file):
            os.unlink(path)


if __name__ == "__main__":
    main()
