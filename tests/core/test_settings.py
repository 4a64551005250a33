from __future__ import annotations

import os
import subprocess
import sys

import pytest
from pydantic import ValidationError

from app.core.config import DEV_JWT_SECRET, Settings

PRODUCTION_SECRETS = {
    "jwt_secret": "p" * 48,
    "pii_key": "cHJvZHVjdGlvbi1waWkta2V5LTAxMjM0NTY3ODlhYmM=",
    "pii_index_key": "production-index-key",
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


@pytest.mark.parametrize("unchanged", ["jwt_secret", "pii_key", "wechat_app_secret", "feed_token"])
def test_production_refuses_development_secrets(unchanged):
    values = {k: v for k, v in PRODUCTION_SECRETS.items() if k != unchanged}
    with pytest.raises(ValidationError) as error:
        Settings(_env_file=None, app_env="production", **values)
    assert unchanged.upper() in str(error.value)


def test_previous_jwt_secrets_from_comma_list(monkeypatch):
    monkeypatch.setenv("JWT_PREVIOUS_SECRETS", "old-one, old-two")
    settings = Settings(_env_file=None)
    assert settings.jwt_previous_secrets == ["old-one", "old-two"]
    assert len(settings.jwt_keys) == 3


def test_serve_refuses_to_start_in_production_with_dev_secret(tmp_path):
    env = {
        k: v for k, v in os.environ.items() if k not in {"JWT_SECRET", "DATABASE_URL", "REDIS_URL"}
    }
    env.update(APP_ENV="production", JWT_SECRET=DEV_JWT_SECRET)
    result = subprocess.run(
        [sys.executable, "-m", "app.cli", "serve", "--port", "0"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "refusing to start" in result.stderr
    assert "JWT_SECRET" in result.stderr
