"""Background jobs of the auth domain."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from arq import cron, func
from sqlalchemy import delete

from app.auth.models import RefreshToken
from app.core.queue import task_session

# Expired tokens are kept this long so a replayed old token still finds its family.
EXPIRED_TOKEN_RETENTION = timedelta(days=7)


async def prune_refresh_tokens(ctx: dict[str, Any]) -> int:
    """Delete refresh tokens long past expiry. Safe to run twice: the second finds nothing."""
    cutoff = datetime.now(UTC) - EXPIRED_TOKEN_RETENTION
    async with task_session(ctx) as session:
        result = await session.execute(delete(RefreshToken).where(RefreshToken.expires_at < cutoff))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


functions = [func(prune_refresh_tokens, name="auth.prune_refresh_tokens")]
cron_jobs = [
    cron(
        prune_refresh_tokens,
        name="auth.prune_refresh_tokens.cron",
        hour={3},
        minute={17},
        unique=True,
    ),
]
