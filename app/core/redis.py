"""One Redis pool per process, shared by caches, rate limits and the arq queue."""

from __future__ import annotations

from arq import create_pool
from arq.connections import ArqRedis, RedisSettings

from app.core.config import Settings


def redis_settings(settings: Settings) -> RedisSettings:
    if not settings.redis_url:
        raise RuntimeError("REDIS_URL is not set (use `wengang dev` for embedded defaults)")
    return RedisSettings.from_dsn(settings.redis_url)


async def connect_redis(settings: Settings) -> ArqRedis:
    return await create_pool(redis_settings(settings))
