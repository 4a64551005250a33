"""Every list endpoint's time range needs instants with their UTC offset."""

from __future__ import annotations

import pytest

from app.auth.models import Role

LISTS_WITH_TIME_RANGES = ["/api/v1/visits", "/api/v1/trainings", "/api/v1/audit-events"]


@pytest.mark.parametrize("path", LISTS_WITH_TIME_RANGES)
@pytest.mark.parametrize("name", ["from", "to"])
async def test_a_time_without_its_offset_is_refused(client, make_user, auth, path, name):
    headers = auth(await make_user(Role.manager, ["450226000000"]))
    naive = await client.get(path, params={name: "2026-11-20T10:00:00"}, headers=headers)
    assert naive.status_code == 422, naive.text
    assert naive.headers["content-type"].startswith("application/problem+json")
    assert naive.json()["code"] == "validation_failed"
    aware = await client.get(path, params={name: "2026-11-20T10:00:00+08:00"}, headers=headers)
    assert aware.status_code == 200, aware.text
