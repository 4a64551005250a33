"""The feed simulator: deterministic records of `FEED.md`'s shape for any population, real
villages, valid unique ID numbers, nights of changes, spoiled rows on demand, and updates
applied once per Idempotency-Key."""

from __future__ import annotations

import itertools
import socket
import subprocess
import sys
import time
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from app.core.config import PROJECT_ROOT
from app.feed.simulator import Faults
from app.feed.synthetic import BLOCK_RECORDS, Position, SyntheticFeed
from app.households.errors import InvalidIdNumber
from app.households.id_number import normalise_id_number
from app.policy.values import LabourType, Relation
from tests.feed.simulated import PERIOD, TOKEN, VILLAGES, asgi_http, make_simulator

FIELDS = {
    "household_no", "village_code", "household_category", "monitor_type", "risk_types",
    "risk_eliminated", "relocated", "income_per_capita", "member_no", "name", "id_number",
    "relation", "phone", "labour_type", "employment", "updated_at", "deleted",
}  # fmt: skip
EMPLOYMENT_FIELDS = {"status", "region", "channel", "employer", "months", "income", "period"}
HEADERS = {"Authorization": f"Bearer {TOKEN}"}


def _all(feed: SyntheticFeed, limit: int = 97) -> list[dict]:
    records: list[dict] = []
    position, more = Position(0, 0), True
    while more:
        page, position, more = feed.page(position, limit)
        records += page
    return records


def test_same_seed_same_records_another_seed_others():
    one = SyntheticFeed(500, 11, VILLAGES, period=PERIOD)
    again = SyntheticFeed(500, 11, VILLAGES, period=PERIOD)
    other = SyntheticFeed(500, 12, VILLAGES, period=PERIOD)
    assert _all(one) == _all(again, limit=500)
    assert _all(one) != _all(other)


def test_records_follow_the_contract():
    records = _all(SyntheticFeed(3_000, 3, VILLAGES, period=PERIOD))
    assert len(records) == 3_000
    assert {tuple(sorted(r)) for r in records} == {tuple(sorted(FIELDS))}
    assert len({r["member_no"] for r in records}) == 3_000
    ids = [normalise_id_number(r["id_number"]) for r in records]  # all valid
    assert len(set(ids)) == 3_000
    assert not any(i.startswith("450226") for i in ids)  # never the seeded demo population's
    for record in records:
        employment = record["employment"]
        if employment is not None:
            assert set(employment) == EMPLOYMENT_FIELDS
            assert employment["period"] == PERIOD
            assert 0 <= employment["months"] <= 12
        assert record["updated_at"].endswith("+08:00")
    # Households: consecutive members, 1 to 6 of them, one head, household fields repeated.
    sizes = []
    for _, members in itertools.groupby(records, key=lambda r: r["household_no"]):
        members = list(members)
        sizes.append(len(members))
        assert [m["relation"] for m in members].count(Relation.head.value) == 1
        shared = {
            (m["village_code"], m["household_category"], m["income_per_capita"]) for m in members
        }
        assert len(shared) == 1
    assert set(sizes) == {1, 2, 3, 4, 5, 6}
    assert any(r["deleted"] for r in records)
    assert {r["labour_type"] for r in records} >= {LabourType.ordinary.value, LabourType.none.value}


async def test_the_villages_are_the_demo_county_villages(db):
    """By default the households live in the villages `wengang seed-demo` loads."""
    feed = SyntheticFeed(400, 5, period=PERIOD)
    used = {r["village_code"] for r in _all(feed)}
    villages = set(
        (await db.scalars(text("SELECT code FROM region WHERE level = 'village'"))).all()
    )
    assert used <= villages
    assert len(used) == len(villages) == len(feed.villages)


def test_a_million_members_are_served_from_anywhere():
    feed = SyntheticFeed(1_000_000, 9, VILLAGES, period=PERIOD)
    last, end, more = feed.page(Position(0, 999_990), 50)
    assert len(last) == 10 and not more and end == feed.end()
    middle, _, more = feed.page(Position(0, 500_000), 3)
    assert more
    for offset, record in enumerate(middle, start=500_000):
        assert feed.index_of(record["member_no"]) == offset
        assert record == feed.record(offset)
    # The ID numbers of a stretch straddling blocks are unique and valid.
    stretch, _, _ = feed.page(Position(0, 700_000), 5 * BLOCK_RECORDS)
    assert len({normalise_id_number(r["id_number"]) for r in stretch}) == len(stretch)
    with pytest.raises(ValueError):
        SyntheticFeed(10**9, 9, VILLAGES, period=PERIOD)


def test_a_later_night_serves_the_changes_after_the_old_end():
    first = SyntheticFeed(2_000, 4, VILLAGES, period=PERIOD)
    end_of_first = first.end()
    second = SyntheticFeed(2_000, 4, VILLAGES, period=PERIOD, epoch=1)
    assert _all(second)[:2_000] == _all(first)  # the log keeps its past
    changes, at, more = second.page(end_of_first, 1_000)
    assert not more and at == second.end()
    assert len(changes) == 100  # one member in 20
    assert {r["updated_at"][:10] for r in changes} == {"2026-11-02"}
    before = {r["member_no"]: r for r in _all(first)}
    changed = [r for r in changes if r["employment"] != before[r["member_no"]]["employment"]]
    assert changed
    assert all(
        {k: v for k, v in r.items() if k not in ("employment", "updated_at", "deleted")}
        == {
            k: v
            for k, v in before[r["member_no"]].items()
            if k not in ("employment", "updated_at", "deleted")
        }
        for r in changes
    )
    with pytest.raises(ValueError, match="ahead"):
        first.page(Position(1, 0), 10)


def test_spoiled_rows_are_of_each_kind():
    feed = SyntheticFeed(400, 6, VILLAGES, period=PERIOD, bad_every=10)
    records = _all(feed)
    spoiled = records[9::10]
    missing = [r for r in spoiled if "village_code" not in r]
    assert missing and all("labour_type" not in r for r in missing)
    reasons = []
    for record in spoiled:
        if "village_code" in record:
            try:
                normalise_id_number(record["id_number"])
                reasons.append("valid")
            except InvalidIdNumber as exc:
                reasons.append(str(exc))
    assert any("校验位" in reason for reason in reasons)
    assert any("科学计数法" in reason for reason in reasons)
    shared = [
        r
        for i, r in enumerate(records)
        if i % 10 == 9 and r["id_number"] == records[i - 1]["id_number"]
    ]
    assert shared
    clean = [r for i, r in enumerate(records) if i % 10 != 9]
    assert all(normalise_id_number(r["id_number"]) for r in clean)


async def test_the_token_is_checked_and_can_expire():
    simulator = make_simulator(faults=Faults(token_expires_after=2))
    async with asgi_http(simulator) as http:
        assert (
            await http.get("/v1/records", headers={"Authorization": "Bearer nope"})
        ).status_code == 401
        assert (await http.get("/v1/records")).status_code == 401
        assert (await http.get("/v1/records", headers=HEADERS)).status_code == 200
        assert (await http.get("/v1/records", headers=HEADERS)).status_code == 200
        expired = await http.get("/v1/records", headers=HEADERS)
        assert expired.status_code == 401 and expired.json() == {"error": "token expired"}


async def test_records_refuses_a_bad_cursor_and_limit():
    simulator = make_simulator()
    async with asgi_http(simulator) as http:
        for params in ({"cursor": "not-a-cursor"}, {"limit": 0}, {"limit": 5000}, {"limit": "x"}):
            assert (
                await http.get("/v1/records", params=params, headers=HEADERS)
            ).status_code == 400


async def test_faults_come_as_configured():
    simulator = make_simulator(faults=Faults(rate_limit_every=3, retry_after="9"))
    async with asgi_http(simulator) as http:
        statuses = [(await http.get("/v1/records", headers=HEADERS)) for _ in range(6)]
    assert [r.status_code for r in statuses] == [200, 200, 429, 200, 200, 429]
    assert statuses[2].headers["Retry-After"] == "9"
    failing = make_simulator(faults=Faults(error_rate=0.5))
    async with asgi_http(failing) as http:
        codes = [(await http.get("/v1/records", headers=HEADERS)).status_code for _ in range(40)]
    assert set(codes) == {200, 503}
    again = make_simulator(faults=Faults(error_rate=0.5))
    async with asgi_http(again) as http:
        assert codes == [
            (await http.get("/v1/records", headers=HEADERS)).status_code for _ in range(40)
        ]


def _update(member_no: str, status: str = "务工", months: int = 3) -> dict:
    return {
        "member_no": member_no,
        "period": PERIOD,
        "employment": {
            "status": status, "region": "县内", "channel": "就业帮扶车间", "employer": "侗绣车间",
            "months": months, "income": 6000, "period": PERIOD,
        },
        "observed_at": "2026-11-20T10:00:00+08:00",
        "source": "visit",
    }  # fmt: skip


async def test_updates_are_applied_once_per_key_and_refused_per_item():
    simulator = make_simulator()
    members = [r["member_no"] for r in _all(simulator.feed) if not r["deleted"]]
    body = {
        "updates": [
            _update(members[0]),
            _update("4502261002019999999-01"),
            _update(members[1], months=13),
        ]
    }
    async with asgi_http(simulator) as http:

        def post(key: str, json: dict) -> Any:
            return http.post("/v1/updates", json=json, headers={**HEADERS, "Idempotency-Key": key})

        first = await post("k1", body)
        again = await post("k1", body)
        assert first.status_code == again.status_code == 200
        assert (
            first.json()
            == again.json()
            == {
                "accepted": 1,
                "rejected": [
                    {"index": 1, "reason": "成员编号 4502261002019999999-01 不存在"},
                    {"index": 2, "reason": "务工时间(月)应为 0 到 12"},
                ],
            }
        )
        assert again.headers["Idempotent-Replayed"] == "true"
        assert simulator.ledger.applications == [("k1", members[0], PERIOD)]
        assert (await post("k1", {"updates": [_update(members[2])]})).status_code == 422
        assert (await http.post("/v1/updates", json=body, headers=HEADERS)).status_code == 400
        assert (await post("k2", {"updates": [_update(members[0], status="未务工")]})).json()[
            "accepted"
        ] == 1
        assert simulator.ledger.applied[(members[0], PERIOD)]["employment"]["status"] == "未务工"


def test_the_command_serves_the_feed(tmp_path):
    """`wengang feed-simulator` on a port of its own, with a switch on."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = subprocess.Popen(
        [sys.executable, "-m", "app.cli", "feed-simulator", "--port", str(port),
         "--population", "30", "--token", TOKEN, "--rate-limit-every", "2", "--retry-after", "3"],
        cwd=PROJECT_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                answer = httpx.get(
                    f"http://127.0.0.1:{port}/v1/records", params={"limit": 50}, headers=HEADERS
                )
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline and process.poll() is None
                time.sleep(0.2)
        assert answer.status_code == 200 and len(answer.json()["records"]) == 30
        limited = httpx.get(f"http://127.0.0.1:{port}/v1/records", headers=HEADERS)
        assert limited.status_code == 429 and limited.headers["Retry-After"] == "3"
    finally:
        process.terminate()
        process.wait(timeout=10)
