"""Token pairs: a short access JWT and a rotating opaque refresh token.

Each refresh spends its token and issues a child in the same family. Presenting a spent token
again means it was copied: the whole family is revoked, thief and owner alike must log in again.
A phone that lost the answer to its refresh gets a short grace to retry.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.errors import RefreshAccountDisabled, RefreshTokenInvalid, RefreshTokenReused
from app.auth.models import RefreshToken, UserAccount
from app.core.config import Settings
from app.core.security import fingerprint, issue_access_token, new_refresh_token


class IssuedTokens:
    __slots__ = ("access_token", "expires_in", "refresh_token")

    def __init__(self, access_token: str, refresh_token: str, expires_in: int) -> None:
        self.access_token = access_token
        self.refresh_token = refresh_token
        self.expires_in = expires_in


def _add_refresh_token(
    session: AsyncSession,
    settings: Settings,
    user_id: uuid.UUID,
    family_id: uuid.UUID,
    parent_id: uuid.UUID | None,
    now: datetime,
) -> str:
    token = new_refresh_token()
    session.add(
        RefreshToken(
            family_id=family_id,
            user_id=user_id,
            token_hash=fingerprint(token),
            parent_id=parent_id,
            created_at=now,
            expires_at=now + timedelta(seconds=settings.refresh_token_ttl_seconds),
        )
    )
    return token


def issue_tokens(session: AsyncSession, settings: Settings, user: UserAccount) -> IssuedTokens:
    """A new login: a new refresh family."""
    now = datetime.now(UTC)
    refresh = _add_refresh_token(session, settings, user.id, uuid.uuid4(), None, now)
    access, ttl = issue_access_token(settings, user.id, user.role)
    return IssuedTokens(access, refresh, ttl)


async def revoke_family(session: AsyncSession, family_id: uuid.UUID, reason: str) -> None:
    await session.execute(
        update(RefreshToken)
        .where(RefreshToken.family_id == family_id, RefreshToken.revoked_at.is_(None))
        .values(revoked_at=datetime.now(UTC), revoked_reason=reason)
    )


async def revoke_all_for_user(session: AsyncSession, user_id: uuid.UUID, reason: str) -> None:
    await session.execute(
        update(RefreshToken)
        .where(RefreshToken.user_id == user_id, RefreshToken.revoked_at.is_(None))
        .values(revoked_at=datetime.now(UTC), revoked_reason=reason)
    )


async def find_live_token(session: AsyncSession, presented: str) -> RefreshToken | None:
    token = await session.scalar(
        select(RefreshToken).where(RefreshToken.token_hash == fingerprint(presented))
    )
    if token is None or token.revoked_at is not None:
        return None
    return token


async def rotate(
    session: AsyncSession, settings: Settings, presented: str
) -> tuple[UserAccount, IssuedTokens]:
    now = datetime.now(UTC)
    token = await session.scalar(
        select(RefreshToken)
        .where(RefreshToken.token_hash == fingerprint(presented))
        .with_for_update()
    )
    if token is None or token.expires_at <= now:
        raise RefreshTokenInvalid()
    if token.revoked_at is not None:
        raise RefreshTokenInvalid("该登录已被注销，请重新登录")
    if token.spent_at is not None:
        await _handle_spent(session, settings, token, now)
    user = await session.get(UserAccount, token.user_id)
    if user is None or not user.is_active:
        await revoke_family(session, token.family_id, "account_disabled")
        raise RefreshAccountDisabled("账号已停用")
    if token.spent_at is None:  # a grace retry keeps the original time: the grace never grows
        token.spent_at = now
    refresh = _add_refresh_token(session, settings, user.id, token.family_id, token.id, now)
    access, ttl = issue_access_token(settings, user.id, user.role)
    return user, IssuedTokens(access, refresh, ttl)


async def _handle_spent(
    session: AsyncSession, settings: Settings, token: RefreshToken, now: datetime
) -> None:
    """A spent token again: a retry within the grace is allowed once its successor is unused;
    anything else is reuse and ends the family."""
    assert token.spent_at is not None
    successor = await session.scalar(
        select(RefreshToken)
        .where(RefreshToken.parent_id == token.id)
        .order_by(RefreshToken.created_at.desc())
        .limit(1)
        .with_for_update()
    )
    within_grace = now - token.spent_at <= timedelta(seconds=settings.refresh_reuse_grace_seconds)
    if (
        within_grace
        and successor is not None
        and successor.spent_at is None
        and successor.revoked_at is None
    ):
        # The phone never got `successor`: retire it and let this retry issue a fresh one.
        successor.revoked_at = now
        successor.revoked_reason = "superseded"
        return
    await revoke_family(session, token.family_id, "reuse_detected")
    raise RefreshTokenReused()
