"""problem+json everywhere, a request id on every answer, nothing internal leaked."""

from __future__ import annotations

import httpx
import pytest
from fastapi import Depends

from app.core.errors import Conflict


@pytest.fixture
async def app_with_failures(settings):
    from app.main import create_app

    application = create_app(settings)

    async def failing_dependency() -> None:
        raise Conflict("依赖项发现冲突")

    @application.get("/boom")
    async def boom() -> None:
        raise RuntimeError("secret internal detail /srv/app/thing.py")

    @application.get("/dependency-fails", dependencies=[Depends(failing_dependency)])
    async def guarded() -> None:
        return None

    async with application.router.lifespan_context(application):
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
            yield http


def _is_problem(response: httpx.Response, status: int, code: str) -> dict:
    assert response.status_code == status
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.headers["x-request-id"]
    body = response.json()
    assert body["status"] == status
    assert body["code"] == code
    assert body["title"]
    assert body["request_id"] == response.headers["x-request-id"]
    return body


async def test_unknown_path_is_404_problem(client):
    _is_problem(await client.get("/api/v1/nowhere"), 404, "not_found")


async def test_wrong_method_is_405_problem(client):
    _is_problem(await client.delete("/healthz"), 405, "method_not_allowed")


async def test_validation_error_lists_fields(client):
    response = await client.post("/api/v1/auth/wechat/login", json={"code": ""})
    body = _is_problem(response, 422, "validation_failed")
    assert body["errors"][0]["field"] == "body.code"
    assert body["errors"][0]["message"]


async def test_malformed_json_is_422_problem(client):
    response = await client.post(
        "/api/v1/auth/refresh",
        content=b"{not json",
        headers={"content-type": "application/json"},
    )
    _is_problem(response, 422, "validation_failed")


async def test_unhandled_error_is_500_problem_without_internals(app_with_failures):
    response = await app_with_failures.get("/boom")
    body = _is_problem(response, 500, "internal_error")
    assert "secret" not in response.text
    assert "Traceback" not in response.text
    assert "/srv" not in response.text
    assert body["detail"]


async def test_errors_raised_by_dependencies_are_problems(app_with_failures):
    body = _is_problem(await app_with_failures.get("/dependency-fails"), 409, "conflict")
    assert body["detail"] == "依赖项发现冲突"


async def test_request_id_is_echoed_or_generated(client):
    echoed = await client.get("/healthz", headers={"X-Request-ID": "phone-abc.123"})
    assert echoed.headers["x-request-id"] == "phone-abc.123"
    generated = await client.get("/healthz", headers={"X-Request-ID": "bad id with spaces"})
    assert generated.headers["x-request-id"] != "bad id with spaces"
    assert len(generated.headers["x-request-id"]) == 32


async def test_chinese_round_trips(client, make_user, auth):
    from app.auth.models import Role

    manager = await make_user(Role.manager, ["450226100000"])
    response = await client.get("/api/v1/regions/450226100000", headers=auth(manager))
    assert response.json()["name"] == "古宜镇"
    assert "古宜镇".encode() in response.content
