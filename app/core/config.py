"""Every setting of the service, read once from the environment or `.env`."""

from __future__ import annotations

import hashlib
import ipaddress
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from app.policy.field_work import DEFAULT_VISIT_MAX_DISTANCE_KM

# Development defaults for secrets. They make `make dev` work out of the box and are refused,
# like empty values, unless APP_ENV says development or test (see
# `Settings.refuse_development_secrets`): an unset APP_ENV means production.
DEV_JWT_SECRET = "dev-jwt-secret-change-me-0123456789abcdef"
DEV_PII_KEY = "ZGV2LXBpaS1rZXktY2hhbmdlLW1lLTAxMjM0NTY3ODk="  # base64 of a 32-byte dev key
DEV_PII_INDEX_KEY = "dev-pii-index-key-change-me"
DEV_WECHAT_APP_SECRET = "dev-wechat-secret"
DEV_FEED_TOKEN = "dev-feed-token"
DEV_WECHAT_APP_ID = "wx-dev-app"

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def normalise_database_url(url: str) -> str:
    """Accept the URL forms people paste (`postgres://`, `postgresql://`) and use asyncpg."""
    for prefix in (
        "postgres://",
        "postgresql://",
        "postgresql+psycopg://",
        "postgresql+psycopg2://",
    ):
        if url.startswith(prefix):
            return "postgresql+asyncpg://" + url[len(prefix) :]
    return url


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    # Production unless said otherwise: a bare `wengang serve` must not run on the published
    # development secrets. `wengang dev`, `make test` and the benchmarks set it themselves.
    app_env: Literal["development", "test", "production"] = "production"
    log_level: str = "INFO"
    # json: one object a line, for a log pipeline; console: for a person (`wengang dev`).
    log_format: Literal["json", "console"] = "json"
    # Where `wengang dev` keeps its embedded PostgreSQL and Redis; survives restarts.
    data_dir: Path = PROJECT_ROOT / ".data"

    database_url: str | None = None
    # Connections per process. No overflow by default: overflow connections are opened and
    # closed under load (churn). 32 keeps p99 low at 64 concurrent requests (docs/benchmarks.md);
    # mind PostgreSQL's max_connections when running several processes.
    database_pool_size: int = 32
    database_max_overflow: int = 0
    # The driver's own pool, for the one-statement hot paths: the lanes below (the callers'
    # accounts, visits) draw from it, so it holds at most as many connections as they have
    # lanes, plus a rare follow-up read of a visit; this is a ceiling, not what is opened.
    database_driver_pool_size: int = 32
    redis_url: str | None = None

    jwt_secret: str = DEV_JWT_SECRET
    # Older signing secrets still accepted for verification while tokens signed by them live
    # (comma separated); rotate by moving JWT_SECRET here and setting a new one.
    jwt_previous_secrets: Annotated[list[str], NoDecode] = Field(default_factory=list)
    jwt_issuer: str = "wengang"
    jwt_audience: str = "wengang-api"
    access_token_ttl_seconds: int = 15 * 60
    refresh_token_ttl_seconds: int = 30 * 24 * 3600
    # A phone that lost the answer to a refresh may present the spent token again this soon
    # without its family being revoked.
    refresh_reuse_grace_seconds: int = 10

    pii_key: str = DEV_PII_KEY
    pii_index_key: str = DEV_PII_INDEX_KEY

    wechat_api_base: str = "https://api.weixin.qq.com"
    wechat_app_id: str = DEV_WECHAT_APP_ID
    wechat_app_secret: str = DEV_WECHAT_APP_SECRET
    wechat_timeout_seconds: float = 5.0

    # Notifications (app/notifications, docs/notifications.md). The WeChat templates, by event:
    # a JSON file (default: the one beside the code, with the development template ids).
    notification_templates_file: Path | None = None
    # `miniprogram_state` of the messages: which build of the mini-program a tap opens.
    wechat_miniprogram_state: Literal["developer", "trial", "formal"] = "formal"
    # Messages claimed per transaction, and calls to WeChat under way at once per worker.
    notification_batch_size: int = Field(default=200, ge=1, le=5000)
    notification_concurrency: int = Field(default=32, ge=1, le=512)
    # Transient failures (5xx, -1, no connection) are tried again up to `max_attempts` in all,
    # after a backoff doubling from `backoff_seconds` (with jitter).
    notification_max_attempts: int = Field(default=5, ge=1, le=20)
    notification_backoff_seconds: float = Field(default=2.0, ge=0)
    # An attempt still `sending` this long after it was recorded lost its outcome (its worker
    # died): it is marked `unknown` and never resent.
    notification_sending_stale_seconds: int = Field(default=300, ge=0)

    feed_url: str = "http://127.0.0.1:8001"
    feed_token: str = DEV_FEED_TOKEN
    feed_timeout_seconds: float = Field(default=30.0, gt=0)
    # Records asked for per page of the pull; each page is applied in one transaction.
    feed_page_size: int = Field(default=1000, ge=1, le=10_000)
    # The nightly pull, in Shanghai time.
    feed_sync_hour: int = Field(default=2, ge=0, le=23)
    # Uploaded spreadsheets wait here for the worker (a volume the API and workers share),
    # each at most this large, and are imported this many rows per transaction.
    feed_import_dir: Path | None = None  # default: <data_dir>/imports
    feed_import_max_bytes: int = Field(default=512 * 1024 * 1024, ge=1024)
    feed_import_chunk_rows: int = Field(default=5000, ge=1)
    # Each call to the feed (app/feed/client.py): one attempt may take this long; 5xx, timeouts
    # and lost connections are tried again up to `feed_max_attempts` in all, after a backoff
    # doubling from `feed_backoff_seconds` (with jitter).
    feed_max_attempts: int = Field(default=5, ge=1)
    feed_backoff_seconds: float = Field(default=1.0, ge=0)
    # Updates sent back to the feed per request (app/feed/pushback.py).
    feed_push_batch_size: int = Field(default=200, ge=1, le=1000)

    visit_max_distance_km: float = DEFAULT_VISIT_MAX_DISTANCE_KM
    # Visits are written by this many statements at once per process, each taking up to
    # `visit_write_batch` of the uploads waiting (app/visits/writer.py). Two lanes of up to 32
    # cost the database a fifth less per visit under load than four of 16 (docs/benchmarks.md).
    visit_write_lanes: int = Field(default=2, ge=1)
    visit_write_batch: int = Field(default=32, ge=1)
    # The same for reading the callers' accounts (app/auth/callers.py).
    account_read_lanes: int = Field(default=2, ge=1)
    account_read_batch: int = Field(default=32, ge=1)

    # Request bodies (app/core/body_limit.py): file uploads (multipart), every other body, and
    # any body of a request without an `Authorization` header (logins are small forms).
    max_body_bytes: int = Field(default=1024 * 1024, ge=1024)
    max_upload_bytes: int = Field(default=20 * 1024 * 1024, ge=1024)
    max_anonymous_body_bytes: int = Field(default=16 * 1024, ge=1024)

    # Per account (app/core/rate_limit.py): writes in a window (0 turns the limit off), and
    # full ID-number reveals, by default at most 30 an hour.
    write_rate_max: int = Field(default=300, ge=0)
    write_rate_window_seconds: int = Field(default=60, ge=1)
    id_reveal_max: int = Field(default=30, ge=0)
    id_reveal_window_seconds: int = Field(default=3600, ge=1)

    # Login throttling: failed attempts per account from one address, attempts per address.
    login_account_max_failures: int = 5
    login_account_window_seconds: int = 15 * 60
    login_address_max_attempts: int = 30
    login_address_window_seconds: int = 60
    # Failures of one account from anywhere, in a day: past it, only addresses the account has
    # logged in from before (within `login_known_address_seconds`) may try.
    login_account_ceiling: int = Field(default=100, ge=1)
    login_account_ceiling_window_seconds: int = Field(default=24 * 3600, ge=1)
    login_known_address_seconds: int = Field(default=30 * 24 * 3600, ge=1)
    # Reverse proxies (CIDRs, comma separated) whose `X-Forwarded-For` names the client; from
    # any other peer the header is ignored, so a client cannot choose its own address.
    trusted_proxies: Annotated[list[ipaddress.IPv4Network | ipaddress.IPv6Network], NoDecode] = (
        Field(default_factory=list)
    )

    @property
    def import_dir(self) -> Path:
        return self.feed_import_dir or self.data_dir / "imports"

    @field_validator("database_url")
    @classmethod
    def _asyncpg_driver(cls, value: str | None) -> str | None:
        return normalise_database_url(value) if value else value

    @field_validator("jwt_previous_secrets", mode="before")
    @classmethod
    def _split_secrets(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _split_networks(cls, value: object) -> object:
        if isinstance(value, str):
            return [
                ipaddress.ip_network(part.strip(), strict=False)
                for part in value.split(",")
                if part.strip()
            ]
        return value

    @model_validator(mode="after")
    def refuse_development_secrets(self) -> Settings:
        if self.app_env != "production":
            return self
        defaults = {
            "JWT_SECRET": (self.jwt_secret, DEV_JWT_SECRET),
            "PII_KEY": (self.pii_key, DEV_PII_KEY),
            "PII_INDEX_KEY": (self.pii_index_key, DEV_PII_INDEX_KEY),
            "WECHAT_APP_ID": (self.wechat_app_id, DEV_WECHAT_APP_ID),
            "WECHAT_APP_SECRET": (self.wechat_app_secret, DEV_WECHAT_APP_SECRET),
            "FEED_TOKEN": (self.feed_token, DEV_FEED_TOKEN),
        }
        # An empty value (`JWT_SECRET=` left as in .env.example) is no secret either.
        empty = [name for name, (value, _) in defaults.items() if not value.strip()]
        unchanged = [name for name, (value, default) in defaults.items() if value == default]
        problems = []
        if empty:
            problems.append("these are empty: " + ", ".join(empty))
        if unchanged:
            problems.append("these still have their development defaults: " + ", ".join(unchanged))
        if problems:
            raise ValueError("APP_ENV=production but " + "; ".join(problems))
        if len(self.jwt_secret) < 32:
            raise ValueError("JWT_SECRET must be at least 32 characters in production")
        if not self.database_url or not self.redis_url:
            raise ValueError("DATABASE_URL and REDIS_URL must be set in production")
        return self

    @property
    def jwt_keys(self) -> dict[str, str]:
        """Signing keys by key id; the first is the one new tokens are signed with."""
        secrets = [self.jwt_secret, *self.jwt_previous_secrets]
        return {key_id(secret): secret for secret in secrets}

    @property
    def jwt_current_kid(self) -> str:
        return key_id(self.jwt_secret)


@lru_cache(maxsize=16)
def key_id(secret: str) -> str:
    # A key id derived from the secret: stable, and reveals nothing usable about it.
    return hashlib.sha256(b"wengang-kid:" + secret.encode()).hexdigest()[:16]


@lru_cache
def get_settings() -> Settings:
    return Settings()
