"""`wengang dev`: says it runs only when it does, fails loudly, its WeChat fake logs in and its
simulated feed answers."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from app.cli import build_parser
from app.core.config import DEV_FEED_TOKEN, PROJECT_ROOT, Settings
from app.core.embedded import EmbeddedServices
from app.devserver import Children, DevFailed, DevOptions, banner, wait_until_ready

ALL_INTERFACES = "0.0.0.0"  # noqa: S104 - an option's value; nothing binds it here


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _dev_env(settings: Settings, tmp_path: Path) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("PYTEST")}
    env.update(
        DATABASE_URL=settings.database_url or "",
        REDIS_URL=settings.redis_url or "",
        DATA_DIR=str(tmp_path / "data"),
        APP_ENV="development",
    )
    return env


def test_dev_options():
    args = build_parser().parse_args(["dev", "--host", ALL_INTERFACES, "--no-fake-wechat"])
    assert (args.host, args.fake_wechat, args.no_worker) == (ALL_INTERFACES, False, False)
    defaults = build_parser().parse_args(["dev"])
    assert (defaults.host, defaults.port, defaults.fake_wechat) == ("127.0.0.1", 8000, True)


def test_a_busy_port_fails_at_once_with_status_1(settings, tmp_path):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "-m", "app.cli", "dev", "--port", str(port)],
            env=_dev_env(settings, tmp_path),
            cwd=PROJECT_ROOT,
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert result.returncode == 1
    assert f"port {port} on 127.0.0.1 is already in use" in result.stderr
    assert "wengang is running" not in result.stdout


def test_a_part_that_dies_before_it_is_ready_is_reported(tmp_path):
    children = Children(os.environ)
    children.start("API", "no-such-command")
    try:
        with pytest.raises(DevFailed, match=r"the API exited \(status 2\) before it was ready"):
            wait_until_ready(f"http://127.0.0.1:{_free_port()}/readyz", children, [])
    finally:
        children.stop()


def test_banner_shows_how_other_commands_reach_the_services(settings):
    services = EmbeddedServices(settings.database_url, settings.redis_url)
    text = banner(DevOptions(host=ALL_INTERFACES, port=8123), settings, services)
    assert f"export DATABASE_URL='{settings.database_url}'" in text
    assert f"export REDIS_URL='{settings.redis_url}'" in text
    assert "http://127.0.0.1:8123/docs" in text
    assert "reachable from this machine only" not in text
    assert f"feed     simulator at {settings.feed_url}" in text
    local = banner(DevOptions(fake_wechat=False, feed_simulator=False), settings, services)
    assert "reachable from this machine only" in local
    assert "fake at" not in local
    assert "simulator at" not in local


def test_dev_prints_the_banner_once_ready_and_stops_cleanly_on_ctrl_c(settings, tmp_path):
    """Against the test servers: migrate (nothing to do), seed, API, worker, fake WeChat."""
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "app.cli", "dev", "--port", str(port)],
        env=_dev_env(settings, tmp_path),
        cwd=PROJECT_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert process.stdout is not None
        deadline = time.monotonic() + 120
        seen = []
        for line in process.stdout:
            seen.append(line)
            if line.startswith("wengang is running"):
                break
            assert time.monotonic() < deadline, "".join(seen)
        else:
            pytest.fail("wengang dev ended without its banner:\n" + "".join(seen))
        # The banner came only after the API answered ready.
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=5) as ready:
            assert ready.status == 200
        # The simulated feed answers at the FEED_URL the banner names, with the dev token.
        feed_line = next(line for line in process.stdout if line.startswith("  feed "))
        feed_url = feed_line.split(" at ", 1)[1].split(": ", 1)[0]
        request = urllib.request.Request(  # noqa: S310 - the banner's loopback URL
            f"{feed_url}/v1/records?limit=3",
            headers={"Authorization": f"Bearer {DEV_FEED_TOKEN}"},
        )
        with urllib.request.urlopen(request, timeout=5) as feed:  # noqa: S310 - the same
            assert len(json.loads(feed.read())["records"]) == 3
        process.send_signal(signal.SIGINT)
        rest = process.stdout.read()  # to the end: every process writing to it has stopped
        process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0
    assert "wengang dev: stopped" in rest
    assert f"export DATABASE_URL='{settings.database_url}'" in rest


async def test_the_fake_wechat_signs_in_any_mini_program_code(client):
    """The mini-program's own wx.login codes: each one differs, all are the one dev user."""
    first = await client.post("/api/v1/auth/wechat/login", json={"code": "0c3Xk2Ga1Qw9aB"})
    second = await client.post("/api/v1/auth/wechat/login", json={"code": "081pZq0w3aD1xY"})
    assert first.status_code == second.status_code == 200, first.text
    assert first.json()["user"]["id"] == second.json()["user"]["id"]
    assert first.json()["user"]["role"] == "villager"
