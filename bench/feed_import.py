"""The spreadsheet import against its floor: a raw asyncpg COPY of the same rows.

    .venv/bin/python bench/feed_import.py [--rows N] [--xlsx]

On one empty database (`wengang_bench_feed`, migrated, the demo county's regions), in one run:

- **floor**: the rows already parsed and encrypted, COPYed by asyncpg straight into `household`,
  `member` and `member_employment` with their indexes (only the COPYs are timed): what the
  database's own taking of those rows costs;
- **import**: the same rows as a csv (UTF-8) or xlsx file through the whole import path, run by
  `app.feed.imports.run_import` as the worker runs it: read, validate, repair, encrypt, stage,
  merge (the one member writer included), refused rows, and the data checks afterwards;
- **again**: the same file imported a second time, with the rows the tables took
  (`pg_stat_user_tables`: inserted, updated, deleted) counted: the target is 0.

With `--pull`, instead: a whole pull of `--rows` records from the feed simulator (its own
process on loopback) into the same empty database, as the worker runs it (`app.feed.sync.pull`:
fetch, map, encrypt, stage, merge, checks), against the floor of a bare `httpx` loop fetching
the same pages (`bench/feed_pull.py`).

Each phase runs in a child process of its own, so its peak memory (`VmHWM`) is its own.
Target (issue 13): import ≥ 0.5× the floor's rows per second; 0 rows written again; the worker
under 500 MB for any size; 1,000,000 csv rows under 2 minutes, xlsx under 4.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import harness

from app.core.config import Settings
from app.core.crypto import ID_NUMBER_INDEX, PHONE_INDEX, PiiCipher
from app.households.id_number import check_digit
from app.households.views import ID_NUMBER_CIPHER, PHONE_CIPHER
from app.regions.importer import DEMO_COUNTY_CSV

DATABASE = "wengang_bench_feed"
HEADERS = (
    "户编号", "行政区划代码", "户类型", "监测对象类别", "风险类型", "是否风险消除", "是否易地搬迁",
    "人均纯收入", "成员编号", "姓名", "证件号码", "与户主关系", "联系电话", "劳动技能", "务工状态",
    "务工地域", "就业渠道", "务工单位", "务工时间(月)", "务工收入(元)", "统计月份",
)  # fmt: skip
MEMBERS_PER_HOUSEHOLD = 4
RELATIONS = ("户主", "配偶", "之子", "之女")
CHUNK = 5000


def villages(url: str) -> list[str]:
    return harness.psql(
        "SELECT code FROM region WHERE level = 'village' ORDER BY code", url
    ).split()


def people(rows: int, codes: list[str]) -> Iterator[dict[str, object]]:
    """`rows` members, four a household, deterministic: a person per index."""
    for index in range(rows):
        home = index // MEMBERS_PER_HOUSEHOLD
        # A birth date and a sequence per index: unique below 16.8 million people.
        day, rest = index // 1000 % 28 + 1, index // 28_000
        born = f"{1950 + rest // 12 % 50}{rest % 12 + 1:02d}{day:02d}"
        first17 = f"450226{born}{index % 1000:03d}"
        working = index % 3 != 0
        yield {
            "户编号": f"H{home:09d}",
            "行政区划代码": codes[home % len(codes)],
            "户类型": ("脱贫户", "监测户", "一般农户")[home % 3],
            "监测对象类别": "边缘易致贫户" if home % 3 == 1 else "",
            "风险类型": "因病、因学" if home % 2 else "因务工就业不稳",
            "是否风险消除": "否",
            "是否易地搬迁": "是" if home % 7 == 0 else "否",
            "人均纯收入": f"{6000 + home % 9000}.50",
            "成员编号": f"M{index:010d}",
            "姓名": f"韦{index % 9973}",
            "证件号码": first17 + check_digit(first17),
            "与户主关系": RELATIONS[index % MEMBERS_PER_HOUSEHOLD],
            "联系电话": f"138{index:08d}",
            "劳动技能": "普通劳动力",
            "务工状态": "务工" if working else "未务工",
            "务工地域": ("省外", "省内县外", "县内")[index % 3] if working else "",
            "就业渠道": ("外出务工", "灵活就业", "就业帮扶车间")[index % 3] if working else "",
            "务工单位": f"单位{index % 500}" if working else "",
            "务工时间(月)": str(index % 12 + 1) if working else "0",
            "务工收入(元)": str(3000 + index % 2000) if working else "",
            "统计月份": "2026-10",
        }


def write_file(path: Path, rows: int, codes: list[str], xlsx: bool) -> None:
    if xlsx:
        from openpyxl import Workbook

        book = Workbook(write_only=True)
        sheet = book.create_sheet()
        sheet.append(["三江县防返贫监测对象务工信息"])
        sheet.append(list(HEADERS))
        for person in people(rows, codes):
            sheet.append([person[h] for h in HEADERS])
        book.save(path)
        return
    with path.open("w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["三江县防返贫监测对象务工信息"])
        writer.writerow(HEADERS)
        for person in people(rows, codes):
            writer.writerow([person[h] for h in HEADERS])


def settings(url: str) -> Settings:
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        app_env="development",
        database_url=url,
        redis_url=harness.REDIS_URL,
    )


async def floor(url: str, rows: int, codes: list[str]) -> float:
    """Seconds the COPYs take for the rows, parsed and encrypted beforehand (chunk by chunk,
    so memory stays bounded; only the COPYs are timed)."""
    import asyncpg

    cipher = PiiCipher.from_settings(settings(url))
    connection = await asyncpg.connect(url.replace("postgresql+asyncpg", "postgresql"))
    copying = 0.0
    households: dict[str, uuid.UUID] = {}
    batch: list[dict[str, object]] = []
    now = datetime.now(UTC)

    async def flush() -> float:
        homes, members, months = [], [], []
        for p in batch:
            no = str(p["户编号"])
            if no not in households:
                households[no] = uuid.uuid4()
                homes.append((
                    households[no], no, p["行政区划代码"], p["户类型"], p["监测对象类别"] or None,
                    str(p["风险类型"]).split("、"), False, p["是否易地搬迁"] == "是",
                    Decimal(str(p["人均纯收入"])),
                ))  # fmt: skip
            member = uuid.uuid4()
            members.append((
                member, households[no], p["成员编号"], p["姓名"],
                cipher.encrypt(str(p["证件号码"]), context=ID_NUMBER_CIPHER),
                cipher.blind_index(str(p["证件号码"]), context=ID_NUMBER_INDEX),
                cipher.encrypt(str(p["联系电话"]), context=PHONE_CIPHER),
                cipher.blind_index(str(p["联系电话"]), context=PHONE_INDEX),
                p["与户主关系"], p["劳动技能"],
            ))  # fmt: skip
            months.append((
                member, p["统计月份"], p["务工状态"], p["务工地域"] or None,
                p["就业渠道"] or None, p["务工单位"] or None, int(str(p["务工时间(月)"])),
                Decimal(str(p["务工收入(元)"])) if p["务工收入(元)"] else None, "feed", now,
            ))  # fmt: skip
        started = time.perf_counter()
        await connection.copy_records_to_table(
            "household", records=homes, columns=(
                "id", "household_no", "village_code", "category", "monitor_type",
                "risk_types", "risk_eliminated", "relocated", "income_per_capita",
            ),
        )  # fmt: skip
        await connection.copy_records_to_table(
            "member", records=members, columns=(
                "id", "household_id", "member_no", "name", "id_number_cipher",
                "id_number_index", "phone_cipher", "phone_index", "relation", "labour_type",
            ),
        )  # fmt: skip
        await connection.copy_records_to_table(
            "member_employment", records=months, columns=(
                "member_id", "period", "status", "work_region", "channel", "employer",
                "months", "income", "source", "observed_at",
            ),
        )  # fmt: skip
        return time.perf_counter() - started

    for person in people(rows, codes):
        batch.append(person)
        if len(batch) == CHUNK:
            copying += await flush()
            batch.clear()
    if batch:
        copying += await flush()
    await connection.close()
    return copying


async def run_import(url: str, path: Path) -> dict[str, object]:
    import app.models  # noqa: F401  (every table, for the ORM's foreign keys)
    from app.core.db import Database
    from app.feed import imports

    config = settings(url)
    database = Database(config)
    import_id = uuid.uuid4()
    harness.psql(
        "INSERT INTO feed_import (id, filename, path, size_bytes, status) VALUES "
        f"('{import_id}', '{path.name}', '{path}', {path.stat().st_size}, 'queued')",
        url,
    )
    started = time.perf_counter()
    status = await imports.run_import(
        database, import_id, PiiCipher.from_settings(config), config.feed_import_chunk_rows
    )
    seconds = time.perf_counter() - started
    await database.dispose()
    counts = json.loads(
        harness.psql(
            "SELECT row_to_json(i) FROM (SELECT rows_read, new, changed, unchanged, rejected"
            f" FROM feed_import WHERE id = '{import_id}') AS i",
            url,
        )
    )
    return {"seconds": seconds, "status": status, **counts}


def tuples_written(url: str) -> int:
    harness.psql("SELECT pg_stat_force_next_flush()", url)
    return int(
        harness.psql(
            "SELECT coalesce(sum(n_tup_ins + n_tup_upd + n_tup_del), 0) FROM pg_stat_user_tables"
            " WHERE relname IN ('household', 'member', 'member_employment', 'audit_event')",
            url,
        )
    )


def child(phase: str, url: str, rows: int, path: Path) -> dict[str, object]:
    """Runs one phase in a child process; answers its figures and peak memory."""
    out = subprocess.run(
        [sys.executable, __file__, "--phase", phase, "--rows", str(rows), "--file", str(path)],
        check=True, capture_output=True, text=True,
        env={**os.environ, "BENCH_FEED_URL": url},
    )  # fmt: skip
    return json.loads(out.stdout.strip().splitlines()[-1])


def phase(name: str, rows: int, path: Path) -> None:
    url = os.environ["BENCH_FEED_URL"]
    if name == "floor":
        figures: dict[str, object] = {"seconds": asyncio.run(floor(url, rows, villages(url)))}
    elif name == "pull":
        figures = asyncio.run(run_pull(url, rows))
    else:
        figures = asyncio.run(run_import(url, path))
    # This program's own peak (`VmHWM`): `ru_maxrss` would also count the parent's memory at
    # the fork that started it.
    with open("/proc/self/status") as status:
        peak_kb = next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))
    figures["peak_mb"] = peak_kb / 1024
    print(json.dumps(figures, default=str))


async def run_pull(url: str, rows: int) -> dict[str, object]:
    import httpx
    from feed_pull import TOKEN, _free_port, bare, start_simulator

    import app.models  # noqa: F401  (every table, for the ORM's foreign keys)
    from app.core.db import Database
    from app.feed import sync
    from app.feed.client import FeedClient
    from app.feed.http_source import HttpFeedSource

    config = settings(url)
    database = Database(config)
    port = _free_port()
    simulator = start_simulator(rows, port)
    base = f"http://127.0.0.1:{port}"
    run_id = uuid.uuid4()
    harness.psql(
        f"INSERT INTO feed_sync_run (id, trigger, status) VALUES ('{run_id}', 'manual', 'queued')",
        url,
    )
    try:
        async with httpx.AsyncClient(timeout=60) as http:
            started = time.perf_counter()
            await bare(http, base, config.feed_page_size)
            floor_seconds = time.perf_counter() - started
            source = HttpFeedSource(
                FeedClient(http, base, TOKEN, timeout=60), config.feed_page_size
            )
            started = time.perf_counter()
            status = await sync.pull(database, source, run_id, PiiCipher.from_settings(config))
            seconds = time.perf_counter() - started
    finally:
        simulator.kill()
        await database.dispose()
    counts = json.loads(
        harness.psql(
            "SELECT row_to_json(r) FROM (SELECT rows_read, new, rejected, pages"
            f" FROM feed_sync_run WHERE id = '{run_id}') AS r",
            url,
        )
    )
    return {"seconds": seconds, "floor_seconds": floor_seconds, "status": status, **counts}


def fresh(url: str) -> None:
    # The audit log refuses TRUNCATE by trigger; replica mode skips triggers.
    harness.psql(
        "SET session_replication_role = replica;"
        " TRUNCATE household, feed_import, audit_event CASCADE",
        url,
    )
    harness.psql("VACUUM ANALYZE", url)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--xlsx", action="store_true")
    parser.add_argument("--pull", action="store_true", help="a pull from the simulator instead")
    parser.add_argument("--no-again", action="store_true", help="skip the second import")
    parser.add_argument("--phase")
    parser.add_argument("--file", type=Path)
    args = parser.parse_args()
    if args.phase:
        phase(args.phase, args.rows, args.file)
        return

    url = harness.database_url(DATABASE)
    harness.psql(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)")
    harness.psql(f"CREATE DATABASE {DATABASE}")
    env = {"DATABASE_URL": url, "REDIS_URL": harness.REDIS_URL, "APP_ENV": "development"}
    harness.sh(str(harness.BIN / "wengang"), "migrate", env=env)
    harness.sh(str(harness.BIN / "wengang"), "import-regions", str(DEMO_COUNTY_CSV), env=env)
    if args.pull:
        fresh(url)
        pulled = child("pull", url, args.rows, Path("-"))
        rate, floor_rate = (
            args.rows / float(pulled[k])  # type: ignore[arg-type]
            for k in ("seconds", "floor_seconds")
        )
        harness.publish(
            "feed_pull_e2e.md",
            [
                f"# A pull of {args.rows:,} records from the simulator"
                " (`bench/feed_import.py --pull`)",
                "",
                "| phase | seconds | records/s | vs floor | peak MB | counts |",
                "|---|---|---|---|---|---|",
                f"| floor: bare httpx loop over the pages | {pulled['floor_seconds']:.1f} "
                f"| {floor_rate:,.0f} | 1.00× | | |",
                f"| pull, end to end | {pulled['seconds']:.1f} | {rate:,.0f} "
                f"| {rate / floor_rate:.2f}× | {pulled['peak_mb']:.0f} | new {pulled['new']:,}, "
                f"rejected {pulled['rejected']:,}, pages {pulled['pages']:,} |",
            ],
        )
        return
    codes = villages(url)
    suffix = ".xlsx" if args.xlsx else ".csv"
    path = Path(os.environ.get("TMPDIR", "/tmp")) / f"wengang_bench_feed_{args.rows}{suffix}"
    if not path.exists():
        write_file(path, args.rows, codes, args.xlsx)

    fresh(url)
    base = child("floor", url, args.rows, path)
    fresh(url)
    ours = child("import", url, args.rows, path)
    before = tuples_written(url)
    again = (
        {"seconds": float("nan"), "peak_mb": float("nan"), "unchanged": 0}
        if args.no_again
        else child("import", url, args.rows, path)
    )
    written_again = tuples_written(url) - before
    floor_rate = args.rows / float(base["seconds"])  # type: ignore[arg-type]
    our_rate = args.rows / float(ours["seconds"])  # type: ignore[arg-type]
    lines = [
        f"# Import of {args.rows:,} {suffix[1:]} rows (`bench/feed_import.py`)",
        "",
        "| phase | seconds | rows/s | vs floor | peak MB | counts |",
        "|---|---|---|---|---|---|",
        f"| floor: raw COPY, parsed and encrypted | {base['seconds']:.1f} | {floor_rate:,.0f} "
        f"| 1.00× | {base['peak_mb']:.0f} | |",
        f"| import, end to end | {ours['seconds']:.1f} | {our_rate:,.0f} "
        f"| {our_rate / floor_rate:.2f}× | {ours['peak_mb']:.0f} | new {ours['new']:,}, "
        f"rejected {ours['rejected']:,} |",
        f"| the same file again | {again['seconds']:.1f} | "
        f"{args.rows / float(again['seconds']):,.0f} | | {again['peak_mb']:.0f} "  # type: ignore[arg-type]
        f"| unchanged {again['unchanged']:,}; rows written: **{written_again}** |",
    ]
    harness.publish(f"feed_import_{suffix[1:]}.md", lines)


if __name__ == "__main__":
    main()
