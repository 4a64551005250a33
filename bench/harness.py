"""What the Python benchmarks share: a seeded million-member database, a one-worker server,
the bare one-route app to measure it against, tokens, and wrk runs with p50/p95/p99 read from
wrk's own histogram.

Settings (environment): BENCH_DATABASE_URL (a server we may create databases on),
BENCH_REDIS_URL (default database 14), BENCH_DURATION (default `10s`), and BENCH_CONNECTIONS
(default 16; the registry benchmark's load; visits and matching name their own counts).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the benchmarks import the app for sampling and EXPLAIN

BIN = ROOT / ".venv" / "bin"
ADMIN_URL = os.environ.get("BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1/postgres")
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/14")
CONNECTIONS = int(os.environ.get("BENCH_CONNECTIONS", "16"))
DURATION = os.environ.get("BENCH_DURATION", "10s")
RESULTS = ROOT / "bench" / "results"
REGISTRY_DATABASE = "wengang_bench_registry"

# wrk's own latency histogram, read in its `done` hook: wrk prints no p95 by itself.
REPORT_LUA = """
done = function(summary, latency, requests)
  io.write(string.format("RESULT %.1f %.3f %.3f %.3f %d %d\\n",
    summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(95) / 1000,
    latency:percentile(99) / 1000, summary.errors.status, summary.requests))
end
"""


def publish(name: str, lines: list[str]) -> None:
    """Prints a benchmark's report and keeps it as `bench/results/<name>`."""
    text = "\n".join(lines) + "\n"
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / name).write_text(text, encoding="utf-8")
    print(text)


def sh(*args: str, env: dict[str, str] | None = None) -> str:
    return subprocess.run(
        args, check=True, capture_output=True, text=True, env={**os.environ, **(env or {})}
    ).stdout


def database_url(name: str = REGISTRY_DATABASE) -> str:
    return ADMIN_URL.rsplit("/", 1)[0] + "/" + name


def psql(sql: str, url: str = ADMIN_URL) -> str:
    return sh("psql", url, "-qAtX", "-v", "ON_ERROR_STOP=1", "-c", sql)


def seed(url: str, households: int, reseed: bool = False) -> str:
    """The registry database, seeded with `households` households once and then reused."""
    name = url.rsplit("/", 1)[1]
    env = {"DATABASE_URL": url, "REDIS_URL": REDIS_URL, "APP_ENV": "development"}
    exists = psql(f"SELECT 1 FROM pg_database WHERE datname = '{name}'")
    members = int(psql("SELECT count(*) FROM member", url) or 0) if exists else 0
    if members and not reseed:
        sh(str(BIN / "wengang"), "migrate", env=env)  # seeded by older code: bring it up to date
        return f"reused the seeded database ({members:,} members)"
    psql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    psql(f"CREATE DATABASE {name}")
    sh(str(BIN / "wengang"), "migrate", env=env)
    started = time.perf_counter()
    sh(str(BIN / "wengang"), "seed-demo", "--households", str(households), env=env)
    seconds = time.perf_counter() - started
    psql("VACUUM ANALYZE", url)
    members = int(psql("SELECT count(*) FROM member", url))
    return f"seeded {members:,} members in {seconds:.1f} s (`wengang seed-demo`, COPY)"


@contextmanager
def scratch_copy(url: str, name: str) -> Iterator[str]:
    """A throwaway copy of the seeded database `url` (`CREATE DATABASE … TEMPLATE`), dropped
    afterwards: a benchmark that writes starts from the same rows every run, instead of from
    whatever earlier runs left behind."""
    template = url.rsplit("/", 1)[1]
    psql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    psql(f"CREATE DATABASE {name} TEMPLATE {template}")
    try:
        yield database_url(name)
    finally:
        psql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Server(str):
    """A running server's base URL, with its process id."""

    pid: int


def cpu_seconds(pid: int) -> tuple[float, float]:
    """CPU time (user + system) used so far by process `pid` and by all PostgreSQL processes
    of the machine (Linux `/proc`): what a request costs on each side, and where it goes."""
    ticks = os.sysconf("SC_CLK_TCK")
    own = postgres = 0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:  # exited meanwhile
            continue
        fields = stat.rsplit(")", 1)[1].split()
        used = int(fields[11]) + int(fields[12])
        if int(entry) == pid:
            own += used
        elif "(postgres)" in stat:
            postgres += used
    return own / ticks, postgres / ticks


@contextmanager
def running_server(url: str) -> Iterator[Server]:
    """One uvicorn worker on `url`'s database, ready; yields its base URL (and pid)."""
    env = {
        "DATABASE_URL": url,
        "REDIS_URL": REDIS_URL,
        "APP_ENV": "development",
        "LOG_LEVEL": "WARNING",
        "ACCESS_TOKEN_TTL_SECONDS": "3600",  # outlives any run
        # One account writes thousands a second: counted as always, never refused.
        "WRITE_RATE_MAX": "1000000000",
    }
    command = [str(BIN / "wengang"), "serve", "--host", "127.0.0.1", "--port"]
    with _serving("server", command, "/readyz", env) as base:
        yield base


@contextmanager
def running_floor() -> Iterator[Server]:
    """The bare one-route FastAPI app (`bench/floor.py bare`), served by the same uvicorn with
    the same options: the floor the request benchmarks are measured against."""
    command = [str(BIN / "python"), str(ROOT / "bench" / "floor.py"), "bare", "--port"]
    with _serving("bare", command, "/healthz") as base:
        yield base


@contextmanager
def _serving(
    name: str, command: list[str], ready_path: str, env: dict[str, str] | None = None
) -> Iterator[Server]:
    """`command` plus a free port, ready on `ready_path`; its output in `results/<name>.log`."""
    if not shutil.which("wrk"):
        subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], check=True)
    port = free_port()
    base = Server(f"http://127.0.0.1:{port}")
    RESULTS.mkdir(parents=True, exist_ok=True)
    log = RESULTS / f"{name}.log"
    with log.open("wb") as output:
        server = subprocess.Popen(
            [*command, str(port)],
            env={**os.environ, **(env or {})},
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    base.pid = server.pid
    try:
        for _ in range(100):
            if server.poll() is not None:
                raise RuntimeError(f"{name} exited ({server.returncode}); see {log}")
            try:
                urllib.request.urlopen(f"{base}{ready_path}", timeout=1)
                break
            except OSError:
                time.sleep(0.2)
        else:
            raise RuntimeError(f"{name} was not ready after 20 s; see {log}")
        yield base
    finally:
        server.terminate()
        server.wait(timeout=10)


def token(base: str, username: str, password: str) -> str:
    body = f"grant_type=password&username={username}&password={password}".encode()
    with urllib.request.urlopen(f"{base}/api/v1/auth/token", data=body, timeout=10) as answer:
        return json.load(answer)["access_token"]


def wrk(
    base: str,
    path: str,
    *,
    headers: list[str] | tuple[str, ...] = (),
    script: str | None = None,
    connections: int | None = None,
) -> dict:
    connections = connections or CONNECTIONS
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as lua:
        lua.write((script or "") + REPORT_LUA)
    args = ["wrk", f"-t{min(2, connections)}", f"-c{connections}", f"-d{DURATION}", "-s", lua.name]
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
