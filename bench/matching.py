"""Matching benchmark: `GET /members/{id}/job-matches` for one labourer among 20,000 open jobs.

    .venv/bin/python bench/matching.py

Uses the registry benchmark's database (seeding it when missing), tops it up to 20,000 open
jobs (deterministic), and drives one uvicorn worker from wrk in a second process, `/healthz`
first as the same-run baseline. Target (issue): p95 under 50 ms.
"""

from __future__ import annotations

import asyncio
import random
import uuid
from datetime import date, timedelta

import harness  # also puts the project on sys.path

OPEN_JOBS = 20_000
SKILLS = ["电工", "焊工", "厨师", "保洁", "普工", "叉车", "缝纫", "育婴", "家政", "装修"]


async def prepare(url: str) -> str:
    """Top the job table up to OPEN_JOBS open jobs; a 外出 labourer of the county to match."""
    from sqlalchemy import func, insert, select, text
    from sqlalchemy.ext.asyncio import create_async_engine

    from app.core.config import normalise_database_url
    from app.jobs.models import Job

    engine = create_async_engine(normalise_database_url(url))
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


CONNECTIONS = (1, 4, 16)


def main() -> None:
    url = harness.database_url()
    print("bench:", harness.seed(url, 250_000), flush=True)
    member = asyncio.run(prepare(url))
    runs = []
    with harness.running_server(url) as base:
        header = f"Authorization: Bearer {harness.token(base, 'county', 'wengang-county')}"
        path = f"/api/v1/members/{member}/job-matches?limit=20"
        harness.wrk(base, path, headers=[header])  # warm-up
        for connections in CONNECTIONS:
            baseline = harness.wrk(base, "/healthz", connections=connections)
            matches = harness.wrk(base, path, headers=[header], connections=connections)
            runs.append((connections, baseline, matches))
    lines = [
        "# Matching benchmark",
        "",
        f"- one labourer (外出, 普通劳动力) among {OPEN_JOBS:,} open jobs, 20 best; one worker; "
        f"wrk -d{harness.DURATION}, `/healthz` then matches at each connection count",
        "",
        "| connections | /healthz req/s | matches req/s | p50 ms | p95 ms | p99 ms | non-2xx |",
        "|---:|---:|---:|---:|---:|---:|---:|",
        *(
            f"| {c} | {b['rps']:,.0f} | {m['rps']:,.0f} | {m['p50']:.1f} | {m['p95']:.1f} | "
            f"{m['p99']:.1f} | {m['non_2xx']} |"
            for c, b, m in runs
        ),
        "",
        "- target: p95 < 50 ms; measured "
        + ", ".join(f"{m['p95']:.1f} ms at {c}" for c, _, m in runs),
    ]
    harness.publish("matching.md", lines)


if __name__ == "__main__":
    main()
