"""The demo jobs and trainings: seeded once, visible at first sight, matched to demo people."""

from __future__ import annotations

from sqlalchemy import text

from app.cli import seed_demo
from app.demo.catalogue import DEMO_JOBS, DEMO_TRAININGS
from app.jobs.models import JobStatus


async def _login(client, username: str) -> dict[str, str]:
    response = await client.post(
        "/api/v1/auth/token",
        data={"grant_type": "password", "username": username, "password": f"wengang-{username}"},
    )
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


async def test_seeded_once_and_listed(client, settings):
    first = await seed_demo(settings, households=40)
    assert (first.jobs, first.trainings) == (len(DEMO_JOBS), len(DEMO_TRAININGS))
    second = await seed_demo(settings, households=40)
    assert (second.jobs, second.trainings) == (0, 0)

    headers = await _login(client, "dazhai")
    jobs = (await client.get("/api/v1/jobs", params={"limit": 100}, headers=headers)).json()
    assert len(jobs["items"]) == len(DEMO_JOBS)
    assert {job["status"] for job in jobs["items"]} == {JobStatus.open.value}
    county = await _login(client, "county")
    trainings = (await client.get("/api/v1/trainings", headers=county)).json()
    assert len(trainings["items"]) == len(DEMO_TRAININGS)
    training = trainings["items"][0]
    detail = (await client.get(f"/api/v1/trainings/{training['id']}", headers=county)).json()
    assert detail["sessions"], "a demo training without sessions"


async def test_a_demo_labourer_is_offered_demo_jobs(app, client, settings):
    await seed_demo(settings, households=40)
    async with app.state.db.engine.connect() as connection:
        member_id = await connection.scalar(
            text(
                "SELECT m.id FROM member m JOIN household h ON h.id = m.household_id"
                " WHERE h.village_code = '450226100201' AND m.labour_type = '普通劳动力'"
                " ORDER BY m.member_no LIMIT 1"
            )
        )
    assert member_id is not None
    headers = await _login(client, "dazhai")
    response = await client.get(f"/api/v1/members/{member_id}/job-matches", headers=headers)
    assert response.status_code == 200, response.text
    body = response.json()
    matches = body["items"] if isinstance(body, dict) else body
    assert matches, "no demo job matched an ordinary labourer"
