"""The `wengang` command against the test database (run in-process)."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import create_async_engine

from app.auth.models import UserAccount, UserRegion
from app.cli import main
from app.core.config import get_settings


@pytest.fixture
def cli_env(monkeypatch, settings):
    monkeypatch.setenv("DATABASE_URL", settings.database_url)
    monkeypatch.setenv("REDIS_URL", settings.redis_url)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def _accounts(url: str) -> list[tuple[str, str, list[str]]]:
    async def read() -> list[tuple[str, str, list[str]]]:
        engine = create_async_engine(url)
        async with engine.connect() as connection:
            users = (
                await connection.execute(
                    select(UserAccount.id, UserAccount.username, UserAccount.role)
                )
            ).all()
            regions = (await connection.execute(select(UserRegion))).all()
        await engine.dispose()
        return [
            (name, role, sorted(r.region_code for r in regions if r.user_id == uid))
            for uid, name, role in users
        ]

    return asyncio.run(read())


def test_create_user(cli_env, settings, capsys):
    main(
        [
            "create-user",
            "--username",
            "lan",
            "--password",
            "pw-123456",
            "--role",
            "coordinator",
            "--region",
            "450226100201",
            "--region",
            "450226100202",
        ]
    )
    assert "created coordinator lan" in capsys.readouterr().out
    assert ("lan", "coordinator", ["450226100201", "450226100202"]) in _accounts(
        settings.database_url
    )


@pytest.mark.parametrize(
    "args",
    [
        ["--role", "coordinator", "--region", "450226100000"],  # a township is not a village
        ["--role", "manager"],  # a manager needs a region
        ["--role", "manager", "--region", "999999999999"],  # unknown region
    ],
)
def test_create_user_refuses_bad_regions(cli_env, capsys, args):
    with pytest.raises(SystemExit) as exit_:
        main(["create-user", "--username", "bad", "--password", "pw-123456", *args])
    assert exit_.value.code == 1
    assert capsys.readouterr().err.startswith("wengang: ")


def test_create_client_prints_secret_once(cli_env, capsys):
    main(["create-client", "--name", "县数据看板", "--region", "450226000000"])
    out = capsys.readouterr().out
    assert "client_id=cli_" in out and "client_secret=" in out


def test_import_regions(cli_env, tmp_path, capsys):
    csv_file = tmp_path / "regions.csv"
    csv_file.write_text(
        "统计用区划代码,名称\n450226105000,洋溪乡\n450226105201,洋溪村\n", encoding="utf-8"
    )
    main(["import-regions", str(csv_file)])
    assert "2 new" in capsys.readouterr().out


def test_commands_that_need_the_database_say_how_to_reach_it(monkeypatch, capsys):
    monkeypatch.delenv("DATABASE_URL", raising=False)
    get_settings.cache_clear()
    try:
        with pytest.raises(SystemExit) as exit_:
            main(["create-user", "--username", "x", "--password", "pw-123456", "--role", "admin"])
    finally:
        get_settings.cache_clear()
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("wengang: DATABASE_URL not set") and "`export` lines" in err
