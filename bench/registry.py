"""Registry benchmark: filtered household pages and ID-number lookups on a million members.

    .venv/bin/python bench/registry.py [--households 250000] [--reseed]

Seeds (once; `--reseed` to redo) a database of `--households` households (four members each on
average) with `wengang seed-demo`, starts one uvicorn worker, and drives it from wrk in a second
process: `/healthz` as the same-run baseline, then a filtered household page as a county and a
township manager, and `POST /members/lookup` rotating through real ID numbers. Prints p50/p95/
p99 and requests per second for each, and the `EXPLAIN (ANALYZE, BUFFERS)` of both queries.
Targets (issue): household page p95 < 50 ms; ID lookup uses an index with p95 < 10 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys

from harness import (
    CONNECTIONS,
    DURATION,
    database_url,
    publish,
    running_server,
    seed,
    token,
    wrk,
)

LOOKUP_LUA = """
local numbers = {%s}
local i = 0
request = function()
  i = i %% #numbers + 1
  return wrk.format("POST", "/api/v1/members/lookup",
    {["Content-Type"] = "application/json", ["Authorization"] = "Bearer %s"},
    '{"id_number":"' .. numbers[i] .. '"}')
end
"""


async def sample_id_numbers(url: str, count: int) -> list[str]:
    from sqlalchemy import select
    from sqlalchemy.ext.asyncio import create_async_engine

    from app.core.config import Settings, normalise_database_url
    from app.core.crypto import PiiCipher
    from app.households.models import Member
    from app.households.views import ID_NUMBER_CIPHER

    cipher = PiiCipher.from_settings(Settings(_env_file=None, app_env="development"))
    engine = create_async_engine(normalise_database_url(url))
    async with engine.connect() as connection:
        blobs = (
            (
                await connection.execute(
                    select(Member.id_number_cipher).order_by(Member.id).limit(count * 20)
                )
            )
            .scalars()
            .all()
        )
    await engine.dispose()
    chosen = random.Random(7).sample(list(blobs), min(count, len(blobs)))
    return [cipher.decrypt(blob, context=ID_NUMBER_CIPHER) for blob in chosen]


async def explain_queries(url: str, id_number: str) -> dict[str, str]:
    """EXPLAIN the very statements the services build, with their parameters."""
    from sqlalchemy import select
    from sqlalchemy.ext.asyncio import create_async_engine

    from app.core.config import Settings, normalise_database_url
    from app.core.crypto import ID_NUMBER_INDEX, PiiCipher
    from app.core.scope import Scope
    from app.households.models import Household, Member

    cipher = PiiCipher.from_settings(Settings(_env_file=None, app_env="development"))
    lookup = (
        select(Member)
        .join(Household, Household.id == Member.household_id)
        .where(
            Member.id_number_index == cipher.blind_index(id_number, context=ID_NUMBER_INDEX),
            Scope.of_regions(["450226000000"]).region_filter(Household.village_code),
        )
    )
    page = (
        select(Household)
        .where(
            Scope.of_regions(["450226000000"]).region_filter(Household.village_code),
            Household.category == "脱贫户",
        )
        .order_by(Household.village_code, Household.household_no)
        .limit(51)
    )
    engine = create_async_engine(normalise_database_url(url))
    plans = {}
    async with engine.connect() as connection:
        for name, statement in (("ID-number lookup", lookup), ("household page", page)):
            compiled = statement.compile(dialect=connection.dialect)
            params = [compiled.params[key] for key in compiled.positiontup]
            raw = (await connection.get_raw_connection()).driver_connection
            rows = await raw.fetch("EXPLAIN (ANALYZE, BUFFERS) " + compiled.string, *params)
            plans[name] = "\n".join(row[0] for row in rows)
    await engine.dispose()
    return plans


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--households", type=int, default=250_000)
    parser.add_argument("--reseed", action="store_true")
    args = parser.parse_args()
    url = database_url()
    seeded = seed(url, args.households, args.reseed)
    print("bench:", seeded, flush=True)

    with running_server(url) as base:
        county = f"Authorization: Bearer {token(base, 'county', 'wengang-county')}"
        township = f"Authorization: Bearer {token(base, 'guyi', 'wengang-guyi')}"
        numbers = asyncio.run(sample_id_numbers(url, 2000))
        lookup_script = LOOKUP_LUA % (",".join(f'"{n}"' for n in numbers), county.split(" ", 2)[2])
        runs = {
            "GET /healthz (baseline)": lambda: wrk(base, "/healthz"),
            "households, county, 脱贫户": lambda: wrk(
                base,
                "/api/v1/households?category=%E8%84%B1%E8%B4%AB%E6%88%B7&limit=50",
                headers=[county],
            ),
            "households, township, 普通劳动力": lambda: wrk(
                base,
                "/api/v1/households?labour_type=%E6%99%AE%E9%80%9A%E5%8A%B3%E5%8A%A8%E5%8A%9B"
                "&limit=50",
                headers=[township],
            ),
            "households, county, name 韦": lambda: wrk(
                base, "/api/v1/households?q=%E9%9F%A6&limit=50", headers=[county]
            ),
            "POST /members/lookup (ID number)": lambda: wrk(base, "/", script=lookup_script),
        }
        for run in runs.values():  # warm-up: caches, prepared statements
            run()
        results = {name: run() for name, run in runs.items()}
    plans = asyncio.run(explain_queries(url, numbers[0]))

    lines = [
        "# Registry benchmark",
        "",
        f"- {seeded}",
        f"- one uvicorn worker; wrk -t2 -c{CONNECTIONS} -d{DURATION}, same machine",
        "",
        "| run | req/s | p50 ms | p95 ms | p99 ms | non-2xx | × baseline req/s |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    baseline = results["GET /healthz (baseline)"]["rps"]
    for name, r in results.items():
        lines.append(
            f"| {name} | {r['rps']:,.0f} | {r['p50']:.1f} | {r['p95']:.1f} | {r['p99']:.1f} | "
            f"{r['non_2xx']} | {r['rps'] / baseline:.2f}× |"
        )
    for name, plan in plans.items():
        lines += ["", f"## EXPLAIN (ANALYZE, BUFFERS): {name}", "", "```", plan, "```"]
    publish("registry.md", lines)
    failures = [n for n, r in results.items() if r["non_2xx"]]
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
