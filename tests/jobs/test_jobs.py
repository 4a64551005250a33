"""Job openings: posting, validation, listing filters, changes, and the expiry job."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import func, select

from app.audit.models import AuditEvent
from app.auth.models import Role
from app.core.periods import today
from app.jobs.models import Job
from tests.jobs.conftest import VILLAGE_A, add_jobs, job_body


def test_validity_days_are_shanghai_days():
    # 17:30 UTC is already half past one the next morning in Shanghai.
    assert today(datetime(2024, 12, 31, 17, 30, tzinfo=UTC)) == date(2025, 1, 1)
    assert today(datetime(2024, 12, 31, 15, 59, tzinfo=UTC)) == date(2024, 12, 31)


async def test_post_get_and_list_jobs(client, coordinator, db):
    created = await client.post(
        "/api/v1/jobs", json=job_body(title="电子厂普工"), headers=coordinator
    )
    assert created.status_code == 201, created.text
    job = created.json()
    assert job["status"] == "open" and job["heavy_labour"] is False
    assert job["location_type"] == "省外" and job["source"] == "劳务协作"
    fetched = await client.get(f"/api/v1/jobs/{job['id']}", headers=coordinator)
    assert fetched.json() == job
    await client.post(
        "/api/v1/jobs",
        json=job_body(title="县城保洁", location_type="县内", source="公益性岗位"),
        headers=coordinator,
    )
    listed = await client.get("/api/v1/jobs", headers=coordinator)
    assert len(listed.json()["items"]) == 2
    by_title = await client.get("/api/v1/jobs", params={"q": "电子"}, headers=coordinator)
    assert [j["id"] for j in by_title.json()["items"]] == [job["id"]]
    county = await client.get("/api/v1/jobs", params={"location_type": "县内"}, headers=coordinator)
    assert [j["title"] for j in county.json()["items"]] == ["县城保洁"]
    welfare = await client.get("/api/v1/jobs", params={"source": "公益性岗位"}, headers=coordinator)
    assert len(welfare.json()["items"]) == 1
    elsewhere = await client.get(
        "/api/v1/jobs", params={"region": "450226101000"}, headers=coordinator
    )
    assert elsewhere.json()["items"] == []
    events = await db.scalar(
        select(func.count()).select_from(AuditEvent).where(AuditEvent.entity == "job")
    )
    assert events == 2


async def test_jobs_are_shared_by_all_staff_and_closed_to_villagers(client, make_user, auth):
    poster = auth(await make_user(Role.coordinator, [VILLAGE_A]))
    other = auth(await make_user(Role.coordinator, ["450226101201"]))
    job = (await client.post("/api/v1/jobs", json=job_body(), headers=poster)).json()
    assert (await client.get(f"/api/v1/jobs/{job['id']}", headers=other)).status_code == 200
    villager = auth(await make_user(Role.villager))
    assert (await client.get("/api/v1/jobs", headers=villager)).status_code == 403
    assert (await client.post("/api/v1/jobs", json=job_body(), headers=villager)).status_code == 403


async def test_paging_through_jobs(client, coordinator, db):
    await add_jobs(db, 5)
    first = (await client.get("/api/v1/jobs", params={"limit": 3}, headers=coordinator)).json()
    assert len(first["items"]) == 3 and first["next_cursor"]
    second = (
        await client.get(
            "/api/v1/jobs", params={"limit": 3, "cursor": first["next_cursor"]}, headers=coordinator
        )
    ).json()
    assert len(second["items"]) == 2 and second["next_cursor"] is None
    ids = {j["id"] for j in first["items"]} | {j["id"] for j in second["items"]}
    assert len(ids) == 5


async def test_validation_errors(client, coordinator):
    cases = [
        job_body(wage_min=8000, wage_max=5000),
        job_body(headcount=0),
        job_body(location_type="国外"),
        job_body(source="网上"),
        job_body(region_code="999999999999"),
        job_body(valid_until=(today() - timedelta(days=1)).isoformat()),
    ]
    for body in cases:
        response = await client.post("/api/v1/jobs", json=body, headers=coordinator)
        assert response.status_code == 422, body
        assert response.headers["content-type"].startswith("application/problem+json")
        assert response.json()["code"] == "validation_failed"
        assert response.json()["errors"]


async def test_patch_job(client, coordinator, db):
    job = (await client.post("/api/v1/jobs", json=job_body(), headers=coordinator)).json()
    changed = await client.patch(
        f"/api/v1/jobs/{job['id']}",
        json={"wage_max": 7000, "heavy_labour": True, "status": "closed"},
        headers=coordinator,
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["wage_max"] == 7000
    assert changed.json()["heavy_labour"] is True and changed.json()["status"] == "closed"
    bad = await client.patch(
        f"/api/v1/jobs/{job['id']}", json={"wage_min": 9000}, headers=coordinator
    )
    assert bad.status_code == 422 and bad.json()["code"] == "validation_failed"
    null = await client.patch(
        f"/api/v1/jobs/{job['id']}", json={"headcount": None}, headers=coordinator
    )
    assert null.status_code == 422 and null.json()["errors"][0]["field"] == "body.headcount"
    missing = await client.patch(
        "/api/v1/jobs/00000000-0000-0000-0000-000000000000", json={}, headers=coordinator
    )
    assert missing.status_code == 404 and missing.json()["code"] == "job_not_found"
    event = await db.scalar(
        select(AuditEvent).where(AuditEvent.entity == "job", AuditEvent.action == "update")
    )
    assert event.changes["wage_max"] == {"old": 6000, "new": 7000}


def _problem(response) -> dict:
    """A problem answer without its request id, to compare two answers."""
    assert response.headers["content-type"].startswith("application/problem+json")
    return {key: value for key, value in response.json().items() if key != "request_id"}


async def test_an_open_job_stays_valid_through_changes(client, coordinator, db):
    yesterday = (today() - timedelta(days=1)).isoformat()
    posted = await client.post(
        "/api/v1/jobs", json=job_body(valid_until=yesterday), headers=coordinator
    )
    job = (await client.post("/api/v1/jobs", json=job_body(), headers=coordinator)).json()
    url = f"/api/v1/jobs/{job['id']}"

    backdated = await client.patch(url, json={"valid_until": yesterday}, headers=coordinator)
    assert backdated.status_code == 422
    assert _problem(backdated) == _problem(posted)
    assert _problem(backdated)["errors"] == [
        {"field": "body.valid_until", "message": "有效期不能早于今天"}
    ]
    # Closing takes no new date, nor does any correction to the closed job.
    closed = await client.patch(
        url, json={"status": "closed", "valid_until": yesterday}, headers=coordinator
    )
    assert closed.status_code == 200, closed.text
    assert closed.json()["status"] == "closed" and closed.json()["valid_until"] == yesterday
    renamed = await client.patch(url, json={"title": "包装工"}, headers=coordinator)
    assert renamed.status_code == 200 and renamed.json()["title"] == "包装工"

    reopened = await client.patch(url, json={"status": "open"}, headers=coordinator)
    assert reopened.status_code == 422 and reopened.json()["code"] == "validation_failed"
    assert [e["field"] for e in reopened.json()["errors"]] == ["body.valid_until"]
    reopened_backdated = await client.patch(
        url, json={"status": "open", "valid_until": yesterday}, headers=coordinator
    )
    assert _problem(reopened_backdated) == _problem(posted)
    assert (await db.get(Job, uuid.UUID(job["id"]))).status == "closed"

    renewed = await client.patch(
        url, json={"status": "open", "valid_until": today().isoformat()}, headers=coordinator
    )
    assert renewed.status_code == 200, renewed.text
    assert renewed.json()["status"] == "open"
    assert renewed.json()["valid_until"] == today().isoformat()


async def test_an_expired_job_not_yet_closed_can_be_closed(client, coordinator, db):
    (job,) = await add_jobs(db, 1, valid_until=today() - timedelta(days=1))
    closed = await client.patch(
        f"/api/v1/jobs/{job.id}", json={"status": "closed"}, headers=coordinator
    )
    assert closed.status_code == 200 and closed.json()["status"] == "closed"


async def test_an_unknown_region_in_the_body_is_a_field_error(client, coordinator):
    posted = await client.post(
        "/api/v1/jobs", json=job_body(region_code="999999999999"), headers=coordinator
    )
    job = (await client.post("/api/v1/jobs", json=job_body(), headers=coordinator)).json()
    patched = await client.patch(
        f"/api/v1/jobs/{job['id']}", json={"region_code": "999999999999"}, headers=coordinator
    )
    for response in (posted, patched):
        assert response.status_code == 422
        problem = _problem(response)
        assert problem["code"] == "validation_failed" and "999999999999" in problem["detail"]
        assert [e["field"] for e in problem["errors"]] == ["body.region_code"]


async def test_a_change_moves_updated_at_and_no_change_does_not(client, coordinator):
    job = (await client.post("/api/v1/jobs", json=job_body(), headers=coordinator)).json()
    url = f"/api/v1/jobs/{job['id']}"
    same = await client.patch(url, json={"title": job["title"]}, headers=coordinator)
    assert same.json()["updated_at"] == job["updated_at"]
    changed = await client.patch(url, json={"headcount": 3}, headers=coordinator)
    assert changed.json()["updated_at"] > job["updated_at"]
    assert changed.json()["created_at"] == job["created_at"]


async def test_close_expired_runs_on_a_real_worker(run_queued_jobs, db):
    expired = [j.id for j in await add_jobs(db, 2, valid_until=today() - timedelta(days=1))]
    current = [j.id for j in await add_jobs(db, 1, valid_until=today())]
    before = dict((await db.execute(select(Job.id, Job.updated_at))).all())

    worker = await run_queued_jobs(db, "jobs.close_expired")
    assert worker.jobs_complete == 1 and worker.jobs_failed == 0

    rows = {row.id: row for row in (await db.execute(select(Job.__table__))).all()}
    assert [rows[j].status for j in expired] == ["closed", "closed"]
    assert all(rows[j].updated_at > before[j] for j in expired)
    assert rows[current[0]].status == "open"
    assert rows[current[0]].updated_at == before[current[0]]
    closings = (
        await db.execute(
            select(AuditEvent.entity_id, AuditEvent.actor_id, AuditEvent.request_id).where(
                AuditEvent.actor_role == "system"
            )
        )
    ).all()
    # Closed as the system caller, named by its job.
    assert sorted(closings) == sorted((j, None, "jobs.close_expired") for j in expired)


async def test_jobs_are_read_by_all_staff_but_changed_only_in_their_regions(
    client, make_user, auth, db
):
    poster = auth(await make_user(Role.coordinator, [VILLAGE_A]))
    other_township = auth(await make_user(Role.manager, ["450226101000"]))
    other_village = auth(await make_user(Role.coordinator, ["450226101201"]))
    job = (await client.post("/api/v1/jobs", json=job_body(), headers=poster)).json()
    url = f"/api/v1/jobs/{job['id']}"
    for outsider in (other_township, other_village):
        assert (await client.get(url, headers=outsider)).status_code == 200
        closed = await client.patch(url, json={"status": "closed"}, headers=outsider)
        assert closed.status_code == 404 and closed.json()["code"] == "job_not_found"
        elsewhere = await client.post(
            "/api/v1/jobs", json=job_body(region_code=VILLAGE_A), headers=outsider
        )
        assert elsewhere.status_code == 404 and elsewhere.json()["code"] == "region_not_found"
    # Its own staff cannot move it out of their regions either.
    moved = await client.patch(url, json={"region_code": "450226101201"}, headers=poster)
    assert moved.status_code == 404 and moved.json()["code"] == "region_not_found"
    stored = await db.get(Job, uuid.UUID(job["id"]))
    assert stored.status == "open" and stored.region_code == VILLAGE_A
    events = await db.scalar(
        select(func.count()).select_from(AuditEvent).where(AuditEvent.entity == "job")
    )
    assert events == 1
    township = auth(await make_user(Role.manager, ["450226100000"]))
    assert (await client.patch(url, json={"headcount": 3}, headers=township)).status_code == 200
