"""Visits benchmark: `POST /api/v1/visits` with three member updates against a bare FastAPI app.

    .venv/bin/python bench/visits.py [--households 250000]

Uses the registry benchmark's seeded database (seeding it when missing), one uvicorn worker,
and wrk in a second process at 64 connections: the bare one-route FastAPI app's `/healthz`
(`bench/floor.py`, the same uvicorn with the same options), then visits, in interleaved pairs.
Every visit has a fresh id (drawn in wrk's Lua) for a household of the county with at least
three members, each getting this month's employment and an intent.
Targets: visits at ≥ 0.15× the bare app's requests per second with zero errors, and a p99
within 3× the bare app's in the same pair (issue 11); p99 under 100 ms at 64 connections.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics

import harness  # also puts the project on sys.path

PAIRS = int(os.environ.get("BENCH_PAIRS", "3"))

VISIT_LUA = """
local households = {%s}
math.randomseed(os.time() + math.floor(os.clock() * 1e6))
local function uuid4()
  local t = "xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx"
  return (t:gsub("[xy]", function(c)
    local v = (c == "x") and math.random(0, 15) or math.random(8, 11)
    return string.format("%%x", v)
  end))
end
request = function()
  local h = households[math.random(#households)]
  local updates = {}
  -- Findings that change from one visit to the next, so every upsert is a real update and
  -- every audit row records a change.
  for i = 2, 4 do
    local intent = (math.random(2) == 1) and "就近" or "外出"
    updates[#updates + 1] = '{"member_id":"' .. h[i] .. '","employment":{"status":"务工",' ..
      '"region":"县内","channel":"就业帮扶车间","months":' .. math.random(1, 12) ..
      '},"intent":{"intent":"' .. intent .. '"}}'
  end
  local body = '{"id":"' .. uuid4() .. '","household_id":"' .. h[1] ..
    '","visited_at":"2026-11-20T10:30:00+08:00","method":"in_person",' ..
    '"location":{"lat":25.79,"lon":109.60},"notes":"bench","member_updates":[' ..
    table.concat(updates, ",") .. ']}'
  return wrk.format("POST", "/api/v1/visits",
    {["Content-Type"] = "application/json", ["Authorization"] = "Bearer %s"}, body)
end
"""


async def sample_households(url: str, count: int) -> list[list[str]]:
    """Households with at least three labour-force members: [household, m1, m2, m3]."""
    from sqlalchemy import text
    from sqlalchemy.ext.asyncio import create_async_engine

    from app.core.config import normalise_database_url

    engine = create_async_engine(normalise_database_url(url))
    async with engine.connect() as connection:
        rows = await connection.execute(
            text(
                "SELECT household_id, (array_agg(id ORDER BY member_no))[1:3] FROM member"
                " WHERE labour_type IN ('普通劳动力', '技能劳动力', '弱劳动力或半劳动力')"
                " GROUP BY household_id HAVING count(*) >= 3 LIMIT :n"
            ),
            {"n": count},
        )
        households = [[str(h), *(str(m) for m in members)] for h, members in rows]
    await engine.dispose()
    return households


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--households", type=int, default=250_000)
    args = parser.parse_args()
    seeded = harness.database_url()
    print("bench:", harness.seed(seeded, args.households), flush=True)
    with harness.scratch_copy(seeded, "wengang_bench_visits") as url:
        pairs = run_pairs(url)
    report(pairs)


def run_pairs(url: str) -> list[tuple[dict, dict]]:
    """The bare app's `/healthz` then visits, `PAIRS` times after a warm-up pair, on fresh
    servers."""
    households = asyncio.run(sample_households(url, 3000))
    with harness.running_floor() as floor, harness.running_server(url) as base:
        token = harness.token(base, "county", "wengang-county")
        script = VISIT_LUA % (
            ",".join("{" + ",".join(f'"{i}"' for i in h) + "}" for h in households),
            token,
        )

        def pair() -> tuple[dict, dict]:
            baseline = harness.wrk(floor, "/healthz", connections=64)
            app_before, db_before = harness.cpu_seconds(base.pid)
            visits = harness.wrk(base, "/", script=script, connections=64)
            app_after, db_after = harness.cpu_seconds(base.pid)
            # CPU per visit on each side, in ms: where the time goes (two shared cores).
            visits["app_ms"] = 1000 * (app_after - app_before) / visits["requests"]
            visits["db_ms"] = 1000 * (db_after - db_before) / visits["requests"]
            return baseline, visits

        pair()  # warm-up
        return [pair() for _ in range(PAIRS)]


def report(pairs: list[tuple[dict, dict]]) -> None:
    lines = [
        "# Visits benchmark",
        "",
        f"- POST /api/v1/visits with 3 member updates (employment + intent each) against "
        f"a bare one-route FastAPI app's GET /healthz (bench/floor.py); one uvicorn worker "
        f"each; wrk -t2 -c64 -d{harness.DURATION}; {PAIRS} pairs",
        "",
        "| pair | bare req/s | bare p99 ms | visits req/s | p50 ms | p95 ms | p99 ms | non-2xx "
        "| ratio | p99 ÷ bare p99 | app CPU ms/visit | PostgreSQL CPU ms/visit |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    ratios, p99_multiples = [], []
    for number, (baseline, visits) in enumerate(pairs, start=1):
        ratio = visits["rps"] / baseline["rps"]
        p99_multiple = visits["p99"] / baseline["p99"]
        ratios.append(ratio)
        p99_multiples.append(p99_multiple)
        lines.append(
            f"| {number} | {baseline['rps']:,.0f} | {baseline['p99']:.1f} | "
            f"{visits['rps']:,.0f} | {visits['p50']:.1f} | {visits['p95']:.1f} | "
            f"{visits['p99']:.1f} | {visits['non_2xx']} | {ratio:.2f}× | {p99_multiple:.1f}× | "
            f"{visits['app_ms']:.2f} | {visits['db_ms']:.2f} |"
        )
    ratio = statistics.median(ratios)
    p99_multiple = statistics.median(p99_multiples)
    worst_p99 = max(v["p99"] for _, v in pairs)
    errors = sum(v["non_2xx"] for _, v in pairs)

    def verdict(ok: bool) -> str:
        return "pass" if ok else "FAIL"

    lines += [
        "",
        f"- median ratio **{ratio:.3f}×** the bare app (target ≥ 0.15×): {verdict(ratio >= 0.15)}",
        f"- p99: median {p99_multiple:.1f}× the bare app's, worst {max(p99_multiples):.1f}× "
        f"(target ≤ 3×): {verdict(p99_multiple <= 3)}",
        f"- worst p99 {worst_p99:.1f} ms (target < 100 ms): {verdict(worst_p99 < 100)}",
        f"- non-2xx {errors} (target 0): {verdict(errors == 0)}",
    ]
    harness.publish("visits.md", lines)


if __name__ == "__main__":
    main()
