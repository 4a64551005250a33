"""The outbox's entry point (replaced by the outbox)."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence

from sqlalchemy.ext.asyncio import AsyncSession


async def notify(
    session: AsyncSession,
    *,
    recipients: Sequence[uuid.UUID],
    event: str,
    title: str,
    body: str,
    link: str | None = None,
    fields: Mapping[str, str] | None = None,
) -> None:
    """Records a notification for `recipients` (user accounts) in `session`'s transaction:
    replaced by the outbox."""
