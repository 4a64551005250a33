"""The models and the migration head agree, and the newest migration reverses cleanly."""

from __future__ import annotations

import asyncio
import os
import uuid

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import make_url

from app.core.config import PROJECT_ROOT
from app.models import Base
from tests.conftest import _admin


@pytest.fixture(scope="module")
def scratch_database(service_urls):
    """A database of its own: downgrading must not disturb the one other tests use."""
    server = make_url(service_urls[0])
    name = f"wengang_migrations_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    asyncio.run(_admin(server.render_as_string(hide_password=False), f'CREATE DATABASE "{name}"'))
    yield server.set(database=name).render_as_string(hide_password=False)
    asyncio.run(
        _admin(
            server.render_as_string(hide_password=False),
            f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)',
        )
    )


def _config(url: str) -> Config:
    config = Config(str(PROJECT_ROOT / "alembic.ini"))
    config.attributes["database_url"] = url
    return config


def _diff(url: str) -> list:
    async def run() -> list:
        from sqlalchemy.ext.asyncio import create_async_engine

        engine = create_async_engine(url)
        async with engine.connect() as connection:
            diff = await connection.run_sync(
                lambda sync: compare_metadata(
                    MigrationContext.configure(sync, opts={"compare_type": True}), Base.metadata
                )
            )
        await engine.dispose()
        return diff

    return asyncio.run(run())


def test_models_match_migration_head(scratch_database):
    command.upgrade(_config(scratch_database), "head")
    assert _diff(scratch_database) == []


def test_newest_migration_downgrades_and_upgrades(scratch_database):
    config = _config(scratch_database)
    command.upgrade(config, "head")
    script = ScriptDirectory.from_config(config)
    head = script.get_current_head()
    command.downgrade(config, "-1")
    command.upgrade(config, "head")
    assert _diff(scratch_database) == []
    assert script.get_revision(head) is not None


def test_single_head_and_dated_names():
    script = ScriptDirectory.from_config(_config("postgresql+asyncpg://unused/none"))
    assert len(script.get_heads()) == 1
    for revision in script.walk_revisions():
        name = os.path.basename(revision.path)
        assert name[:4].isdigit() and name[4] == "_", name
