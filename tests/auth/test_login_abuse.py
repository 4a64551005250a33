"""Logins under attack: failures lock out only where they come from, hashing never stalls the
service, and a client cannot choose the address it is throttled by."""

from __future__ import annotations

import asyncio
import ipaddress
import threading
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from argon2 import PasswordHasher

from app.auth.models import AccountKind, Role
from app.core import security
from app.core.addresses import resolve_client
from tests.conftest import TEST_PASSWORD

TOKEN_URL = "/api/v1/auth/token"
ATTACKER = ("198.51.100.66", 40000)
OFFICE = ("192.0.2.10", 40000)


def _client_at(app: Any, address: tuple[str, int]) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, client=address)
    return httpx.AsyncClient(transport=transport, base_url="http://test")


@pytest.fixture
async def attacker(app: Any) -> AsyncIterator[httpx.AsyncClient]:
    async with _client_at(app, ATTACKER) as http:
        yield http


@pytest.fixture
async def office(app: Any) -> AsyncIterator[httpx.AsyncClient]:
    async with _client_at(app, OFFICE) as http:
        yield http


def _password(username: str, password: str) -> dict[str, str]:
    return {"grant_type": "password", "username": username, "password": password}


async def test_failures_from_one_address_do_not_lock_out_another(
    attacker, office, make_user, settings
):
    await make_user(Role.coordinator, ["450226100201"], username="dazhai")
    for _ in range(settings.login_account_max_failures + 2):
        await attacker.post(TOKEN_URL, data=_password("dazhai", "guess"))
    ok = await office.post(TOKEN_URL, data=_password("dazhai", TEST_PASSWORD))
    assert ok.status_code == 200, ok.text


async def test_failures_from_one_address_lock_that_address(attacker, office, make_user, settings):
    await make_user(Role.coordinator, ["450226100201"], username="dazhai")
    for _ in range(settings.login_account_max_failures):
        wrong = await attacker.post(TOKEN_URL, data=_password("dazhai", "guess"))
        assert wrong.status_code == 401
    locked = await attacker.post(TOKEN_URL, data=_password("dazhai", TEST_PASSWORD))
    assert locked.status_code == 429
    assert locked.json()["code"] == "too_many_login_attempts"
    assert 0 < int(locked.headers["retry-after"]) <= settings.login_account_window_seconds
    # The office's own mistakes are counted apart from the attacker's.
    assert (await office.post(TOKEN_URL, data=_password("dazhai", "typo"))).status_code == 401
    assert (
        await office.post(TOKEN_URL, data=_password("dazhai", TEST_PASSWORD))
    ).status_code == 200


async def test_client_credentials_are_not_locked_out_from_elsewhere(
    attacker, office, make_user, settings
):
    await make_user(
        Role.manager,
        ["450226000000"],
        username="county-bi",
        password="bi-secret",
        kind=AccountKind.client,
    )
    guess = {"grant_type": "client_credentials", "client_id": "county-bi", "client_secret": "x"}
    for _ in range(settings.login_account_max_failures + 1):
        await attacker.post(TOKEN_URL, data=guess)
    right = {**guess, "client_secret": "bi-secret"}
    assert (await attacker.post(TOKEN_URL, data=right)).status_code == 429
    assert (await office.post(TOKEN_URL, data=right)).status_code == 200


class _SlowHasher(PasswordHasher):
    """Verification that takes a known, long time without using the CPU (argon2's real cost
    depends on the machine), counting the verifications under way."""

    SECONDS = 0.4

    def __init__(self) -> None:
        super().__init__(time_cost=1, memory_cost=1024, parallelism=1)
        self._lock = threading.Lock()
        self.in_flight = 0

    def verify(self, hash: str | bytes, password: str | bytes) -> bool:
        with self._lock:
            self.in_flight += 1
        try:
            time.sleep(self.SECONDS)
            return super().verify(hash, password)
        finally:
            with self._lock:
                self.in_flight -= 1


async def test_logins_hashing_do_not_block_other_requests(app, client, make_user, monkeypatch):
    await make_user(Role.admin, username="root")
    hasher = _SlowHasher()
    monkeypatch.setattr(security, "_hasher", hasher)
    logins = [
        asyncio.create_task(client.post(TOKEN_URL, data=_password("root", TEST_PASSWORD)))
        for _ in range(4)
    ]
    latencies, hashing = [], []
    while not all(login.done() for login in logins):
        started = time.perf_counter()
        health = await client.get("/healthz")
        latencies.append(time.perf_counter() - started)
        hashing.append(hasher.in_flight)
        assert health.status_code == 200
        await asyncio.sleep(0.01)  # an in-process request may never give the logins a turn
    # /healthz answered while logins were hashing, each time without waiting for them (on the
    # event loop, a verification would hold it for the whole 0.4 s).
    assert any(hashing)
    assert max(latencies) < _SlowHasher.SECONDS / 2, max(latencies)
    assert [login.result().status_code for login in logins] == [200] * 4


async def test_forwarded_for_from_an_untrusted_peer_is_ignored(attacker, make_user, settings):
    await make_user(Role.admin, username="root")
    for attempt in range(settings.login_account_max_failures):
        spoofed = {"X-Forwarded-For": f"10.9.8.{attempt}"}
        await attacker.post(TOKEN_URL, data=_password("root", "guess"), headers=spoofed)
    fresh = {"X-Forwarded-For": "10.9.8.200"}
    locked = await attacker.post(TOKEN_URL, data=_password("root", TEST_PASSWORD), headers=fresh)
    assert locked.status_code == 429


async def test_forwarded_for_from_a_trusted_proxy_names_the_client(
    app, make_user, settings, monkeypatch
):
    monkeypatch.setattr(settings, "trusted_proxies", [ipaddress.ip_network("10.0.0.0/8")])
    await make_user(Role.admin, username="root")
    async with _client_at(app, ("10.0.0.2", 40000)) as proxy:
        for _ in range(settings.login_account_max_failures):
            await proxy.post(
                TOKEN_URL,
                data=_password("root", "guess"),
                headers={"X-Forwarded-For": ATTACKER[0]},
            )
        # Whatever the attacker writes at the left of the header, the proxy appends the peer.
        blocked = await proxy.post(
            TOKEN_URL,
            data=_password("root", TEST_PASSWORD),
            headers={"X-Forwarded-For": f"{OFFICE[0]}, {ATTACKER[0]}"},
        )
        allowed = await proxy.post(
            TOKEN_URL,
            data=_password("root", TEST_PASSWORD),
            headers={"X-Forwarded-For": OFFICE[0]},
        )
    assert blocked.status_code == 429
    assert allowed.status_code == 200, allowed.text


PROXIES = [ipaddress.ip_network("10.0.0.0/8"), ipaddress.ip_network("fd00::/8")]


@pytest.mark.parametrize(
    ("peer", "forwarded_for", "client"),
    [
        ("198.51.100.1", ["1.2.3.4"], "198.51.100.1"),  # untrusted peer: header ignored
        ("10.0.0.1", [], "10.0.0.1"),
        ("10.0.0.1", ["1.2.3.4"], "1.2.3.4"),
        ("10.0.0.1", ["6.6.6.6, 1.2.3.4"], "1.2.3.4"),  # the left is the client's own text
        ("10.0.0.1", ["1.2.3.4, 10.0.0.7"], "1.2.3.4"),  # a chain of trusted proxies
        ("10.0.0.1", ["1.2.3.4", "10.0.0.7"], "1.2.3.4"),  # the header repeated
        ("10.0.0.1", ["1.2.3.4, garbage"], "10.0.0.1"),
        ("10.0.0.1", ["10.0.0.9"], "10.0.0.9"),
        ("fd00::1", [" 2001:db8::5 "], "2001:db8::5"),
        ("not-an-ip", ["1.2.3.4"], "not-an-ip"),
        (None, ["1.2.3.4"], "unknown"),
    ],
)
def test_resolve_client(peer, forwarded_for, client):
    assert resolve_client(peer, forwarded_for, PROXIES) == client


def test_trusted_proxies_setting_reads_cidrs(settings):
    parsed = type(settings)(
        _env_file=None, trusted_proxies="10.0.0.0/8, 192.168.1.7 ,fd00::/8"
    ).trusted_proxies
    assert [str(network) for network in parsed] == ["10.0.0.0/8", "192.168.1.7/32", "fd00::/8"]
    assert type(settings)(_env_file=None).trusted_proxies == []


async def test_guesses_from_many_addresses_meet_a_ceiling_the_owner_does_not(
    app, office, make_user, settings, monkeypatch
):
    """A botnet guessing from a new address each time: past the account's ceiling only the
    addresses the owner logged in from before may try, and the owner still gets in."""
    monkeypatch.setattr(settings, "login_account_ceiling", 6)
    await make_user(Role.coordinator, ["450226100201"], username="dazhai")
    assert (await office.post(TOKEN_URL, data=_password("dazhai", TEST_PASSWORD))).is_success

    for bot in range(settings.login_account_ceiling):
        async with _client_at(app, (f"203.0.113.{bot + 1}", 40000)) as guesser:
            wrong = await guesser.post(TOKEN_URL, data=_password("dazhai", "guess"))
            assert wrong.status_code == 401, wrong.text
    async with _client_at(app, ("203.0.113.200", 40000)) as fresh:
        refused = await fresh.post(TOKEN_URL, data=_password("dazhai", TEST_PASSWORD))
    assert refused.status_code == 429, refused.text
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert int(refused.headers["Retry-After"]) > 0
    ok = await office.post(TOKEN_URL, data=_password("dazhai", TEST_PASSWORD))
    assert ok.status_code == 200, ok.text
