from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import ValidationError

from app.core.config import DEV_JWT_SECRET, PROJECT_ROOT, Settings

PRODUCTION_SECRETS = {
    "jwt_secret": "p" * 48,
    "pii_key": "cHJvZHVjdGlvbi1waWkta2V5LTAxMjM0NTY3ODlhYmM=",
    "pii_index_key": "production-index-key",
    "wechat_app_id": "wx0123456789abcdef",
    "wechat_app_secret": "production-wechat",
    "feed_token": "production-feed",
    "database_url": "postgresql://db/wengang",
    "redis_url": "redis://cache:6379/0",
}


def test_database_url_accepts_both_schemes():
    plain = Settings(_env_file=None, database_url="postgresql://u:p@h:5432/d")
    assert plain.database_url == "postgresql+asyncpg://u:p@h:5432/d"
    explicit = Settings(_env_file=None, database_url="postgresql+asyncpg://u:p@h/d")
    assert explicit.database_url == "postgresql+asyncpg://u:p@h/d"
    short = Settings(_env_file=None, database_url="postgres://u@h/d")
    assert short.database_url == "postgresql+asyncpg://u@h/d"


def test_production_accepts_real_secrets():
    settings = Settings(_env_file=None, app_env="production", **PRODUCTION_SECRETS)
    assert settings.app_env == "production"


SECRETS = ["jwt_secret", "pii_key", "pii_index_key", "wechat_app_id", "wechat_app_secret"]


@pytest.mark.parametrize("unchanged", [*SECRETS, "feed_token"])
def test_production_refuses_development_secrets(unchanged):
    values = {k: v for k, v in PRODUCTION_SECRETS.items() if k != unchanged}
    with pytest.raises(ValidationError) as error:
        Settings(_env_file=None, app_env="production", **values)
    assert unchanged.upper() in str(error.value)
    assert "development defaults" in str(error.value)


@pytest.mark.parametrize("empty", [*SECRETS, "feed_token"])
@pytest.mark.parametrize("value", ["", "   "])
def test_production_refuses_empty_secrets(empty, value):
    values = {**PRODUCTION_SECRETS, empty: value}
    with pytest.raises(ValidationError) as error:
        Settings(_env_file=None, app_env="production", **values)
    assert f"these are empty: {empty.upper()}" in str(error.value)


def test_production_refuses_the_empty_secrets_of_env_example(tmp_path, monkeypatch):
    """`cp .env.example .env` without filling it in is refused, naming every empty secret."""
    for name in Settings.model_fields:
        monkeypatch.delenv(name.upper(), raising=False)
    env_file = tmp_path / ".env"
    env_file.write_text((PROJECT_ROOT / ".env.example").read_text(encoding="utf-8"))
    with pytest.raises(ValidationError) as error:
        Settings(_env_file=env_file)
    for name in ("JWT_SECRET", "PII_KEY", "PII_INDEX_KEY", "WECHAT_APP_SECRET", "FEED_TOKEN"):
        assert name in str(error.value)


@pytest.mark.parametrize("app_env", ["development", "test"])
def test_development_and_test_accept_the_defaults(app_env):
    settings = Settings(_env_file=None, app_env=app_env)
    assert settings.app_env == app_env
    assert settings.log_format == "json"


def test_an_unset_app_env_is_production_and_refuses_development_secrets(monkeypatch):
    monkeypatch.delenv("APP_ENV", raising=False)
    with pytest.raises(ValidationError) as error:
        Settings(_env_file=None)
    assert "APP_ENV=production" in str(error.value)
    assert "JWT_SECRET" in str(error.value)
    assert Settings(_env_file=None, **PRODUCTION_SECRETS).app_env == "production"


def _serve(env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    """`wengang serve` in a fresh process with `env`: it must refuse before it binds."""
    return subprocess.run(
        [sys.executable, "-m", "app.cli", "serve", "--port", "0"],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_bare_serve_without_app_env_refuses_development_secrets(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in {"APP_ENV", "JWT_SECRET"}}
    env.update(DATABASE_URL="postgresql://db/wengang", REDIS_URL="redis://cache:6379/0")
    result = _serve(env, tmp_path)
    assert result.returncode == 2
    assert "refusing to start" in result.stderr
    assert "development defaults" in result.stderr


def test_env_example_lists_every_setting():
    lines = (PROJECT_ROOT / ".env.example").read_text(encoding="utf-8").splitlines()
    listed = {
        line.lstrip("# ").split("=", 1)[0]
        for line in lines
        if re.match(r"^#? ?[A-Z][A-Z0-9_]*=", line)
    }
    assert listed == {name.upper() for name in Settings.model_fields}


def test_log_format_is_json_or_console():
    assert Settings(_env_file=None, log_format="console").log_format == "console"
    with pytest.raises(ValidationError):
        Settings(_env_file=None, log_format="pretty")


def test_previous_jwt_secrets_from_comma_list(monkeypatch):
    monkeypatch.setenv("JWT_PREVIOUS_SECRETS", "old-one, old-two")
    settings = Settings(_env_file=None, app_env="test")
    assert settings.jwt_previous_secrets == ["old-one", "old-two"]
    assert len(settings.jwt_keys) == 3


def test_serve_refuses_to_start_in_production_with_dev_secret(tmp_path):
    env = {
        k: v for k, v in os.environ.items() if k not in {"JWT_SECRET", "DATABASE_URL", "REDIS_URL"}
    }
    env.update(APP_ENV="production", JWT_SECRET=DEV_JWT_SECRET)
    result = _serve(env, tmp_path)
    assert result.returncode == 2
    assert "refusing to start" in result.stderr
    assert "JWT_SECRET" in result.stderr


def test_wengang_dev_says_development_itself(monkeypatch):
    """`make dev` runs `wengang dev` with no APP_ENV: the command sets development itself,
    for its own settings and the API and worker it starts; production stays refused."""
    import argparse

    import app.devserver
    from app.cli import cmd_dev
    from app.core.config import get_settings

    reached: list[str] = []
    monkeypatch.setattr(
        app.devserver, "run_dev", lambda options: reached.append(os.environ["APP_ENV"]) or 0
    )
    options = argparse.Namespace(
        host="127.0.0.1", port=0, no_worker=True, fake_wechat=True, feed_simulator=True
    )
    monkeypatch.delenv("APP_ENV")
    get_settings.cache_clear()
    try:
        with pytest.raises(SystemExit) as ran:
            cmd_dev(options)
        assert ran.value.code == 0 and reached == ["development"]
        monkeypatch.setenv("APP_ENV", "production")
        get_settings.cache_clear()
        with pytest.raises(SystemExit) as refused:
            cmd_dev(options)
        assert refused.value.code == 2 and reached == ["development"]
    finally:
        get_settings.cache_clear()
