"""Matching benchmark: `GET /members/{id}/job-matches` for one labourer among 20,000 open jobs.

    .venv/bin/python bench/matching.py

Uses the registry benchmark's database (seeding it when missing), tops it up to 20,000 open
jobs (deterministic), and drives one uvicorn worker from wrk in a second process, `/healthz`
first as the same-run baseline. Target (issue): p95 under 50 ms.
"""

from __future__ import annotations

import asyncio
import os
import random
import subprocess
import sys
import time
import urllib.request
import uuid
from datetime import date, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import registry  # the sibling benchmark: seeding, wrk, tokens

OPEN_JOBS = 20_000
SKILLS = ["电工", "焊工", "厨师", "保洁", "普工", "叉车", "缝纫", "育婴", "家政", "装修"]


async def prepare(database_url: str) -> str:
    """Top the job table up to OPEN_JOBS open jobs; a 外出 labourer of the county to match."""
    from sqlalchemy import func, insert, select, text
    from sqlalchemy.ext.asyncio import create_async_engine

    from app.core.config import normalise_database_url
    from app.jobs.models import Job

    engine = create_async_engine(normalise_database_url(database_url))
    async with engine.begin() as connection:
        existing = await connection.scalar(
            select(func.count()).select_from(Job).where(Job.status == "open")
        )
        rng = random.Random(20_000)
        until = date.today() + timedelta(days=90)
        rows = [
            {
                "id": uuid.UUID(int=rng.getrandbits(128), version=4),
                "title": f"{rng.choice(SKILLS)}岗位{n}",
                "employer": f"企业{n % 700}",
                "region_code": rng.choice(["450226100000", "450226101000", "450226000000"]),
                "location_type": rng.choice(["省外", "省内县外", "县内"]),
                "wage_min": 2500,
                "wage_max": 2500 + rng.randrange(0, 9000),
                "headcount": 1 + n % 20,
                "skills": rng.sample(SKILLS, 2),
                "source": rng.choice(["就业驿站", "劳务协作", "帮扶车间", "公益性岗位"]),
                "valid_until": until,
                "heavy_labour": n % 5 == 0,
                "status": "open",
            }
            for n in range(int(existing or 0), OPEN_JOBS)
        ]
        for start in range(0, len(rows), 2000):
            await connection.execute(insert(Job), rows[start : start + 2000])
        member = await connection.scalar(
            text(
                "SELECT m.id FROM member m JOIN member_intent i ON i.member_id = m.id"
                " WHERE i.intent = '外出' AND m.labour_type = '普通劳动力' ORDER BY m.id LIMIT 1"
            )
        )
    await engine.dispose()
    return str(member)


def main() -> None:
    database_url = registry.ADMIN_URL.rsplit("/", 1)[0] + "/wengang_bench_registry"
    print("bench:", registry.seed(database_url, 250_000, reseed=False), flush=True)
    member = asyncio.run(prepare(database_url))
    port = registry.free_port()
    base = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "REDIS_URL": registry.REDIS_URL,
        "LOG_LEVEL": "WARNING",
        "ACCESS_TOKEN_TTL_SECONDS": "3600",
    }
    server = subprocess.Popen(
        [str(registry.BIN / "wengang"), "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(100):
            try:
                urllib.request.urlopen(f"{base}/readyz", timeout=1)
                break
            except OSError:
                time.sleep(0.2)
        header = f"Authorization: Bearer {registry.token(base, 'county', 'wengang-county')}"
        path = f"/api/v1/members/{member}/job-matches?limit=20"
        registry.wrk(base, path, headers=[header])  # warm-up
        baseline = registry.wrk(base, "/healthz")
        matches = registry.wrk(base, path, headers=[header])
    finally:
        server.terminate()
        server.wait(timeout=10)
    report = (
        "\n".join(
            [
                "# Matching benchmark",
                "",
                f"- one labourer (外出, 普通劳动力) among {OPEN_JOBS:,} open jobs; one worker; "
                f"wrk -t2 -c{registry.CONNECTIONS} -d{registry.DURATION}",
                "",
                "| run | req/s | p50 ms | p95 ms | p99 ms | non-2xx |",
                "|---|---:|---:|---:|---:|---:|",
                *(
                    f"| {name} | {r['rps']:,.0f} | {r['p50']:.1f} | {r['p95']:.1f} | "
                    f"{r['p99']:.1f} | {r['non_2xx']} |"
                    for name, r in (
                        ("GET /healthz", baseline),
                        ("GET /members/{id}/job-matches", matches),
                    )
                ),
                "",
                f"- target: p95 < 50 ms; measured {matches['p95']:.1f} ms",
            ]
        )
        + "\n"
    )
    (registry.RESULTS / "matching.md").write_text(report, encoding="utf-8")
    print(report)


if __name__ == "__main__":
    main()
