from __future__ import annotations

import httpx

from app.auth.models import Role


async def test_healthz(client):
    response = await client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_readyz_checks_database_and_redis(client):
    response = await client.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok", "redis": "ok"}


async def test_readyz_answers_503_when_database_is_unreachable(settings):
    from app.main import create_app

    broken = settings.model_copy(
        update={"database_url": "postgresql+asyncpg://postgres@127.0.0.1:1/none"}
    )
    application = create_app(broken)
    async with application.router.lifespan_context(application):
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
            response = await http.get("/readyz")
    assert response.status_code == 503
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert body["code"] == "not_ready"
    assert body["database"] == "unavailable"
    assert body["redis"] == "ok"


async def test_metrics_by_route_template_and_pool(client, make_user, auth):
    admin = await make_user(Role.admin)
    await client.get("/api/v1/regions/450226100201", headers=auth(admin))
    await client.get("/api/v1/regions/450226100202", headers=auth(admin))
    text = (await client.get("/metrics")).text
    assert 'route="/api/v1/regions/{code}"' in text
    assert "450226100201" not in text  # templates, not raw paths
    assert "http_request_duration_seconds_bucket" in text
    assert "db_pool_size" in text
    assert "db_pool_checked_out" in text


async def test_metrics_show_how_requests_share_statements(client, make_user, auth):
    admin = await make_user(Role.admin)
    before = _sample(
        (await client.get("/metrics")).text, 'batch_items_total{batcher="account reads"}'
    )
    await client.get("/api/v1/me", headers=auth(admin))
    text = (await client.get("/metrics")).text
    assert _sample(text, 'batch_items_total{batcher="account reads"}') == before + 1
    for name in ("batch_calls_total", "batch_failed_batches_total", "batch_waiting"):
        assert f'{name}{{batcher="visits"}}' in text


def _sample(text: str, name: str) -> float:
    (line,) = [line for line in text.splitlines() if line.startswith(name + " ")]
    return float(line.rsplit(" ", 1)[1])
