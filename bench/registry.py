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
import json
import os
import random
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = ROOT / ".venv" / "bin"
ADMIN_URL = os.environ.get("BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1/postgres")
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/14")
CONNECTIONS = int(os.environ.get("BENCH_CONNECTIONS", "16"))
DURATION = os.environ.get("BENCH_DURATION", "10s")
RESULTS = ROOT / "bench" / "results"

# wrk's own latency histogram, read in its `done` hook: wrk prints no p95 by itself.
REPORT_LUA = """
done = function(summary, latency, requests)
  io.write(string.format("RESULT %.1f %.3f %.3f %.3f %d %d\\n",
    summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(95) / 1000,
    latency:percentile(99) / 1000, summary.errors.status, summary.requests))
end
"""

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


def sh(*args: str, env: dict[str, str] | None = None) -> str:
    return subprocess.run(
        args, check=True, capture_output=True, text=True, env={**os.environ, **(env or {})}
    ).stdout


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def psql(sql: str, database_url: str = ADMIN_URL) -> str:
    return sh("psql", database_url, "-qAtX", "-v", "ON_ERROR_STOP=1", "-c", sql)


def seed(database_url: str, households: int, reseed: bool) -> str:
    name = database_url.rsplit("/", 1)[1]
    exists = psql(f"SELECT 1 FROM pg_database WHERE datname = '{name}'")
    members = 0
    if exists and not reseed:
        members = int(psql("SELECT count(*) FROM member", database_url) or 0)
    if members and not reseed:
        # Bring a database seeded by older code up to the current schema.
        sh(
            str(BIN / "wengang"),
            "migrate",
            env={"DATABASE_URL": database_url, "REDIS_URL": REDIS_URL},
        )
        return f"reused the seeded database ({members:,} members)"
    psql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    psql(f"CREATE DATABASE {name}")
    env = {"DATABASE_URL": database_url, "REDIS_URL": REDIS_URL}
    sh(str(BIN / "wengang"), "migrate", env=env)
    started = time.perf_counter()
    sh(str(BIN / "wengang"), "seed-demo", "--households", str(households), env=env)
    seconds = time.perf_counter() - started
    psql("VACUUM ANALYZE", database_url)
    members = int(psql("SELECT count(*) FROM member", database_url))
    return f"seeded {members:,} members in {seconds:.1f} s (`wengang seed-demo`, COPY)"


def token(base: str, username: str, password: str) -> str:
    body = f"grant_type=password&username={username}&password={password}".encode()
    with urllib.request.urlopen(f"{base}/api/v1/auth/token", data=body, timeout=10) as answer:
        return json.load(answer)["access_token"]


def wrk(base: str, path: str, *, headers: list[str] = (), script: str | None = None) -> dict:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as lua:
        lua.write((script or "") + REPORT_LUA)
    args = ["wrk", f"-t{min(2, CONNECTIONS)}", f"-c{CONNECTIONS}", f"-d{DURATION}", "-s", lua.name]
    for header in headers:
        args += ["-H", header]
    output = sh(*args, base + path)
    os.unlink(lua.name)
    match = re.search(r"^RESULT (\S+) (\S+) (\S+) (\S+) (\d+) (\d+)$", output, re.MULTILINE)
    assert match, output
    rps, p50, p95, p99, errors, requests = match.groups()
    return {
        "rps": float(rps),
        "p50": float(p50),
        "p95": float(p95),
        "p99": float(p99),
        "non_2xx": int(errors),
        "requests": int(requests),
    }


async def sample_id_numbers(database_url: str, count: int) -> list[str]:
    from sqlalchemy import select
    from sqlalchemy.ext.asyncio import create_async_engine

    from app.core.config import Settings, normalise_database_url
    from app.core.crypto import PiiCipher
    from app.households.models import Member
    from app.households.views import ID_NUMBER_CIPHER

    cipher = PiiCipher.from_settings(Settings(_env_file=None))
    engine = create_async_engine(normalise_database_url(database_url))
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


async def explain_queries(database_url: str, id_number: str) -> dict[str, str]:
    """EXPLAIN the very statements the services build, with their parameters."""
    from sqlalchemy import select
    from sqlalchemy.ext.asyncio import create_async_engine

    from app.core.config import Settings, normalise_database_url
    from app.core.crypto import ID_NUMBER_INDEX, PiiCipher
    from app.core.scope import Scope
    from app.households.models import Household, Member

    cipher = PiiCipher.from_settings(Settings(_env_file=None))
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
    engine = create_async_engine(normalise_database_url(database_url))
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
    parser.add_argument("--database", default="wengang_bench_registry")
    parser.add_argument("--reseed", action="store_true")
    args = parser.parse_args()
    if not shutil.which("wrk"):
        subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], check=True)
    database_url = ADMIN_URL.rsplit("/", 1)[0] + "/" + args.database
    seeded = seed(database_url, args.households, args.reseed)
    print("bench:", seeded, flush=True)

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "REDIS_URL": REDIS_URL,
        "LOG_LEVEL": "WARNING",
        "ACCESS_TOKEN_TTL_SECONDS": "3600",
    }
    server = subprocess.Popen(
        [str(BIN / "wengang"), "serve", "--host", "127.0.0.1", "--port", str(port)],
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
        county = f"Authorization: Bearer {token(base, 'county', 'wengang-county')}"
        township = f"Authorization: Bearer {token(base, 'guyi', 'wengang-guyi')}"
        numbers = asyncio.run(sample_id_numbers(database_url, 2000))
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
        plans = asyncio.run(explain_queries(database_url, numbers[0]))
    finally:
        server.terminate()
        server.wait(timeout=10)

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
    report = "\n".join(lines) + "\n"
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "registry.md").write_text(report, encoding="utf-8")
    print(report)
    failures = [n for n, r in results.items() if r["non_2xx"]]
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    main()
