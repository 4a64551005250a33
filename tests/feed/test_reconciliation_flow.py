"""Reconciliation end to end: a member pulled from the feed, a month a coordinator typed in, the
feed saying otherwise the next night; the disagreement listed in scope while our working copy
keeps ours, resolved by a township manager, and the resolved value sent back to the feed once."""

from __future__ import annotations

from typing import Any

from sqlalchemy import text

from app.auth.models import Role
from app.feed.simulator import FeedSimulator
from tests.feed.pulling import member_id, point_at, pull, serving
from tests.feed.simulated import PERIOD, VILLAGES, make_simulator

CONFLICTS = "/api/v1/feed/conflicts"
OURS = {
    "status": "务工",
    "region": "县内",
    "channel": "就业帮扶车间",
    "employer": "本村侗绣帮扶车间",
    "months": 7,
    "income": "9100.00",
    "observed_at": f"{PERIOD}-20T10:00:00+08:00",
}
RESOLVED = {
    "status": "务工",
    "region": "省外",
    "channel": "外出务工",
    "employer": "广州市白云区电子厂",
    "months": 9,
    "income": "36000.00",
}


def _restated_member(simulator: FeedSimulator) -> dict[str, Any]:
    """A member the feed states again on the first night, with a month."""
    feed = simulator.feed
    probe = make_simulator(feed.population)
    probe.advance(1)
    night = [probe.feed.record_at(1, o) for o in range(probe.feed.segment_length(1))]
    return next(r for r in night if r["employment"] and not r["deleted"])


async def _month(db, member) -> Any:
    row = (
        await db.execute(
            text(
                "SELECT status, work_region, channel, employer, months, income, source"
                " FROM member_employment WHERE member_id = :id AND period = :period"
            ),
            {"id": member, "period": PERIOD},
        )
    ).one()
    await db.commit()
    return row


async def test_a_disagreement_is_listed_resolved_and_pushed_back_once(
    client, db, settings, make_user, auth, monkeypatch, run_queued_jobs
):
    simulator = make_simulator(300)
    record = _restated_member(simulator)
    village = record["village_code"]
    township = village[:9] + "000"
    other_village = next(v for v in VILLAGES if v != village)
    admin = auth(await make_user(Role.admin))
    coordinator = auth(await make_user(Role.coordinator, [village]))
    other_coordinator = auth(await make_user(Role.coordinator, [other_village]))
    manager = auth(await make_user(Role.manager, [township]))

    with serving(simulator) as server:
        point_at(monkeypatch, settings, server)
        first = await pull(client, admin, settings)
        assert first["status"] == "succeeded", first["error"]
        member = await member_id(db, record["member_no"])
        assert (await _month(db, member)).source == "feed"

        # The coordinator records the month as they found it.
        typed = await client.put(
            f"/api/v1/members/{member}/employment/{PERIOD}", json=OURS, headers=coordinator
        )
        assert typed.status_code == 200, typed.text
        assert typed.json()["source"] == "manual"

        # The next night the feed states the month again, otherwise.
        simulator.advance(1)
        theirs = next(
            simulator.feed.record_at(1, o)
            for o in range(simulator.feed.segment_length(1))
            if simulator.feed.record_at(1, o)["member_no"] == record["member_no"]
        )["employment"]
        night = await pull(client, admin, settings)
        assert night["status"] == "succeeded", night["error"]

        # One item, in the coordinator's list and not in another village's.
        listed = await client.get(CONFLICTS, headers=coordinator)
        assert listed.status_code == 200, listed.text
        [item] = listed.json()["items"]
        assert (item["kind"], item["status"], item["period"]) == ("employment", "open", PERIOD)
        assert item["member_no"] == record["member_no"] and item["village_code"] == village
        assert item["member"]["id"] == str(member)
        ours_side, theirs_side = item["ours"], item["theirs"]
        assert (ours_side["source"], ours_side["employer"], ours_side["months"]) == (
            "manual", OURS["employer"], OURS["months"]
        )  # fmt: skip
        assert theirs_side["source"] == "feed"
        assert (theirs_side["status"], theirs_side["employer"], theirs_side["months"]) == (
            theirs["status"], theirs["employer"], theirs["months"]
        )  # fmt: skip
        other = await client.get(CONFLICTS, headers=other_coordinator)
        assert other.status_code == 200 and other.json()["items"] == []
        hidden = await client.get(f"{CONFLICTS}/{item['id']}", headers=other_coordinator)
        assert hidden.status_code == 404

        # Meanwhile our working copy keeps ours (the default precedence).
        kept = await _month(db, member)
        assert (kept.source, kept.employer, kept.months) == ("manual", OURS["employer"], 7)

        # A township manager settles it with the value found on a call.
        resolved = await client.post(
            f"{CONFLICTS}/{item['id']}/resolution",
            json={"resolution": "value", "value": RESOLVED, "note": "电话核实：已外出务工"},
            headers=manager,
        )
        assert resolved.status_code == 200, resolved.text
        assert resolved.json()["status"] == "resolved"
        assert resolved.json()["resolution"] == "value"
        written = await _month(db, member)
        assert (written.status, written.employer, written.months, written.source) == (
            "务工", RESOLVED["employer"], 9, "manual"
        )  # fmt: skip
        open_items = await client.get(CONFLICTS, headers=coordinator, params={"status": "open"})
        assert open_items.json()["items"] == []

        # The push sends the resolved value; the feed applies it once.
        worker = await run_queued_jobs(db, "feed.push")
        assert (worker.jobs_complete, worker.jobs_failed) == (1, 0)
        [(key, member_no, period)] = simulator.ledger.applications
        assert (member_no, period) == (record["member_no"], PERIOD)
        sent = simulator.ledger.applied[(member_no, PERIOD)]
        assert sent["source"] == "manual"
        assert {name: sent["employment"][name] for name in ("status", "region", "employer")} == {
            "status": "务工", "region": "省外", "employer": RESOLVED["employer"]
        }  # fmt: skip
        assert (sent["employment"]["months"], sent["employment"]["income"]) == (9, 36000.0)

        # Pushing again sends nothing.
        requests = simulator.requests
        again = await run_queued_jobs(db, "feed.push")
        assert (again.jobs_complete, again.jobs_failed) == (1, 0)
        assert simulator.requests == requests
        assert simulator.ledger.applications == [(key, member_no, period)]

        # And the next pull, with nothing new, raises nothing again.
        quiet = await pull(client, admin, settings)
        assert quiet["status"] == "succeeded" and quiet["rows_read"] == 0
    assert await db.scalar(text("SELECT count(*) FROM feed_conflict")) == 1
