"""Delivering the outbox: one arq worker against a bare httpx loop (the floor), both posting the
same subscribe messages to the same fake WeChat server with the same concurrency.

    .venv/bin/python bench/notifications_delivery.py --messages 10000 [--concurrency 32]

The fake WeChat server (`app/fakes/wechat.py`) runs in a process of its own on loopback, so its
cost is the same for both and off their event loops. The worker is a real arq worker (burst)
in a process of its own too, so its peak RSS is its own: it claims, sends and records every
message (`app/notifications/delivery.py`). Its rate counts from the start of its job to the
end (arq's own times). The floor posts the same messages, already rendered, from a list.

Targets (issue 14): the worker at >= 0.5x the floor and >= 300 messages/s; the outbox drained
with flat memory (peak RSS at 10,000 and at 100,000). Settings: BENCH_DATABASE_URL (a server we
may create a database on), BENCH_REDIS_URL (default database 14).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import asyncpg  # noqa: E402
import httpx  # noqa: E402

ADMIN_URL = os.environ.get("BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1/postgres")
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/14")
DATABASE = "wengang_bench_notifications"
DATABASE_URL = ADMIN_URL.rsplit("/", 1)[0] + "/" + DATABASE
EVENT = "job.pushed"
TEMPLATE = "dev-tmpl-job-pushed"
JOB_ID = "bench-notifications-deliver"
SAMPLE_SECONDS = 0.1

FAKE = """
import sys, uvicorn
from app.fakes.wechat import FakeWeChatState, build_app
uvicorn.run(build_app(FakeWeChatState()), host="127.0.0.1", port=int(sys.argv[1]),
            log_level="warning", access_log=False)
"""


def _env(base: str, concurrency: int, batch: int) -> dict[str, str]:
    return {
        **os.environ,
        "APP_ENV": "development",
        "DATABASE_URL": DATABASE_URL,
        "REDIS_URL": REDIS_URL,
        "WECHAT_API_BASE": base,
        "NOTIFICATION_CONCURRENCY": str(concurrency),
        "NOTIFICATION_BATCH_SIZE": str(batch),
        "LOG_LEVEL": "WARNING",
    }


def _free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def _prepare(messages: int) -> None:
    """A fresh database at head, `messages` villagers with WeChat and one subscription each,
    and one notification each, written by `notify` in one transaction."""
    admin = await asyncpg.connect(ADMIN_URL)
    await admin.execute(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)')
    await admin.execute(f'CREATE DATABASE "{DATABASE}"')
    await admin.close()
    from app.cli import migrate

    await asyncio.to_thread(migrate, DATABASE_URL)
    connection = await asyncpg.connect(DATABASE_URL)
    try:
        await connection.execute(
            """INSERT INTO user_account (id, kind, role, display_name, wechat_openid)
               SELECT gen_random_uuid(), 'person', 'villager', '村民' || i, 'bench-openid-' || i
               FROM generate_series(1, $1) AS i""",
            messages,
        )
        await connection.execute(
            """INSERT INTO notification_subscription (user_id, template_id, remaining)
               SELECT id, $1, 1 FROM user_account""",
            TEMPLATE,
        )
        recipients = [r["id"] for r in await connection.fetch("SELECT id FROM user_account")]
    finally:
        await connection.close()
    from app.core.config import Settings
    from app.core.db import Database
    from app.notifications.outbox import notify

    database = Database(Settings(_env_file=None, app_env="development", database_url=DATABASE_URL))  # type: ignore[call-arg]
    started = time.perf_counter()
    async with database.sessionmaker.begin() as session:
        await notify(
            session,
            recipients=recipients,
            event=EVENT,
            title="新岗位：电子厂普工",
            body="广东某电子厂招普工，月薪4000至6000元",
            link="pages/jobs/detail?id=1",
            fields={"employer": "广东某电子厂"},
        )
    print(f"notify: {messages} rows in one statement, {time.perf_counter() - started:.2f} s")
    await database.dispose()


async def _floor(base: str, messages: int, concurrency: int) -> float:
    """The same messages, rendered as the worker renders them, posted from a list."""
    from datetime import UTC, datetime

    from app.notifications.templates import DEFAULT_TEMPLATES_FILE, _load

    template = _load(DEFAULT_TEMPLATES_FILE).for_event(EVENT)
    assert template is not None
    now = datetime.now(UTC)
    bodies = [
        {
            "touser": f"bench-openid-{i}",
            "template_id": TEMPLATE,
            "page": "pages/jobs/detail?id=1",
            "data": template.render(
                title="新岗位：电子厂普工",
                body="广东某电子厂招普工，月薪4000至6000元",
                created_at=now,
                fields={"employer": "广东某电子厂"},
            ),
            "miniprogram_state": "formal",
            "lang": "zh_CN",
        }
        for i in range(1, messages + 1)
    ]
    limits = httpx.Limits(max_connections=100, max_keepalive_connections=20)
    async with httpx.AsyncClient(timeout=httpx.Timeout(30.0), limits=limits) as http:
        token = (
            await http.post(
                base + "/cgi-bin/stable_token",
                json={"grant_type": "client_credential", "appid": "a", "secret": "s"},
            )
        ).json()["access_token"]
        url = base + "/cgi-bin/message/subscribe/send"
        queue = iter(bodies)
        sent = 0

        async def lane() -> None:
            nonlocal sent
            for body in queue:
                response = await http.post(url, params={"access_token": token}, json=body)
                if response.json().get("errcode") == 0:
                    sent += 1

        started = time.perf_counter()
        await asyncio.gather(*(lane() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    assert sent == messages, f"the floor sent {sent} of {messages}"
    return messages / elapsed


def _worker() -> None:
    """Child process: one burst arq worker; prints its peak RSS. Read as `VmHWM`, the peak of
    this program's own memory: `ru_maxrss` would also count the parent's memory at the fork
    that started it (Linux keeps the larger of the two across `exec`), and the parent holds
    every message the floor posted."""
    asyncio.run(_run())
    with open("/proc/self/status") as status:
        peak = next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))
    print(json.dumps({"maxrss_kb": peak}))


async def _run() -> None:
    from arq.worker import Worker

    from app.core.config import get_settings
    from workers.main import worker_options

    # Built inside the running loop: the worker's semaphores and tasks belong to it.
    worker = Worker(**worker_options(get_settings(), burst=True, poll_delay=0.05))
    try:
        await worker.main()
    finally:
        await worker.close()


async def _worker_rate(env: dict[str, str], messages: int) -> tuple[float, int]:
    from arq import create_pool
    from arq.connections import RedisSettings
    from arq.jobs import Job

    redis = await create_pool(RedisSettings.from_dsn(REDIS_URL))
    await redis.flushdb()
    await redis.enqueue_job("notifications.deliver", _job_id=JOB_ID)
    child = await asyncio.create_subprocess_exec(
        sys.executable, __file__, "worker", env=env, stdout=subprocess.PIPE
    )
    samples: list[int] = []
    sampler = asyncio.create_task(_sample_rss(child.pid, samples))
    out, _ = await child.communicate()
    sampler.cancel()
    info = await Job(JOB_ID, redis).result_info()
    await redis.aclose()
    assert info is not None and info.success, info
    connection = await asyncpg.connect(DATABASE_URL)
    states = dict(
        await connection.fetch(
            "SELECT wechat_state, count(*) FROM notification GROUP BY wechat_state"
        )
    )
    # A backlog is drained by a chain of jobs: from the first job's start to the last
    # message recorded.
    last_sent = await connection.fetchval("SELECT max(wechat_sent_at) FROM notification")
    await connection.close()
    assert states == {"sent": messages}, states
    elapsed = (last_sent - info.start_time).total_seconds()
    rss = json.loads(out.decode().strip().splitlines()[-1])["maxrss_kb"]
    if samples:
        tenths = [samples[min(len(samples) - 1, len(samples) * k // 10)] for k in range(1, 11)]
        figures = " ".join(f"{v / 1024:.0f}" for v in tenths)
        print("worker RSS by tenth of the drain (MiB):", figures)
        top = max(range(len(samples)), key=samples.__getitem__)
        print(
            f"worker RSS at its highest sample: {samples[top] / 1024:.0f} MiB,"
            f" {top * SAMPLE_SECONDS:.1f} s into {len(samples) * SAMPLE_SECONDS:.0f} s"
        )
    return messages / elapsed, rss


async def _sample_rss(pid: int, samples: list[int]) -> None:
    """The worker's resident set (kB) every `SAMPLE_SECONDS`, to see whether it grows with the
    backlog."""
    while True:
        try:
            with open(f"/proc/{pid}/status") as status:
                for line in status:
                    if line.startswith("VmRSS:"):
                        samples.append(int(line.split()[1]))
        except OSError:
            return
        await asyncio.sleep(SAMPLE_SECONDS)


async def main(messages: int, concurrency: int, batch: int) -> None:
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    fake = subprocess.Popen([sys.executable, "-c", FAKE, str(port)], cwd=ROOT)
    try:
        for _ in range(100):
            try:
                httpx.get(base + "/docs", timeout=0.5)
                break
            except httpx.HTTPError:
                time.sleep(0.1)
        await _prepare(messages)
        floor = await _floor(base, messages, concurrency)
        rate, rss = await _worker_rate(_env(base, concurrency, batch), messages)
    finally:
        fake.terminate()
        fake.wait()
    ratio = rate / floor
    print(f"messages {messages}, concurrency {concurrency}, batch {batch}")
    print(f"bare httpx loop: {floor:8.0f} msg/s")
    print(f"arq worker:      {rate:8.0f} msg/s  ({ratio:.2f}x the floor)")
    print(f"worker peak RSS: {rss / 1024:8.1f} MiB")
    ok = ratio >= 0.5 and rate >= 300
    print("PASS" if ok else "FAIL", "(targets: >= 0.5x the floor, >= 300 msg/s)")


if __name__ == "__main__":
    if sys.argv[1:2] == ["worker"]:
        _worker()
        sys.exit(0)
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--batch", type=int, default=200)
    args = parser.parse_args()
    asyncio.run(main(args.messages, args.concurrency, args.batch))
