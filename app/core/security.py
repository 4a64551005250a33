"""Access tokens (JWT), password and secret hashing, opaque refresh tokens."""

from __future__ import annotations

import asyncio
import hashlib
import secrets
import uuid
from collections import OrderedDict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from app.core.config import Settings
from app.core.errors import InvalidToken, TokenExpired

# Hard-coded: the algorithm is never taken from the token header.
JWT_ALGORITHM = "HS256"
_REQUIRED_CLAIMS = ["exp", "iat", "sub", "aud", "iss"]

_hasher = PasswordHasher()
# Verifying against this when an account does not exist keeps the timing of "no such user"
# and "wrong password" alike.
_DUMMY_HASH = _hasher.hash("wengang-timing-equaliser")


# argon2 takes a few hundred milliseconds of CPU by design; it runs in a worker thread (the
# library releases the GIL) so the event loop keeps answering other requests meanwhile.


async def hash_password(password: str) -> str:
    return await asyncio.to_thread(_hasher.hash, password)


async def verify_password(password_hash: str | None, password: str) -> bool:
    return await asyncio.to_thread(_verify_password, password_hash, password)


def _verify_password(password_hash: str | None, password: str) -> bool:
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def new_refresh_token() -> str:
    return secrets.token_urlsafe(32)


def fingerprint(token: str) -> str:
    """What we store of an opaque high-entropy token: its SHA-256, never the token."""
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class AccessClaims:
    subject: uuid.UUID
    role: str
    issued_at: datetime
    expires_at: datetime
    token_id: str


def issue_access_token(settings: Settings, subject: uuid.UUID, role: str) -> tuple[str, int]:
    now = datetime.now(UTC)
    ttl = settings.access_token_ttl_seconds
    payload = {
        "sub": str(subject),
        "role": role,
        "iss": settings.jwt_issuer,
        "aud": settings.jwt_audience,
        "iat": int(now.timestamp()),
        "exp": int((now + timedelta(seconds=ttl)).timestamp()),
        "jti": uuid.uuid4().hex,
    }
    token = jwt.encode(
        payload,
        settings.jwt_secret,
        algorithm=JWT_ALGORITHM,
        headers={"kid": settings.jwt_current_kid},
    )
    return token, ttl


# Verified tokens by their exact text. A phone sends the same access token for up to 15 minutes;
# verifying its signature again each time is the most expensive step of an authenticated
# request. Only a successful verification is remembered, expiry is checked on every use, and
# the account (revocation, deactivation) is still read from the database each time.
_VERIFIED_MAX = 20_000
_verified: OrderedDict[tuple[str, ...], AccessClaims] = OrderedDict()


def decode_access_token(settings: Settings, token: str) -> AccessClaims:
    # Keyed by everything verification depends on, so other settings never share an answer.
    cache_key = (
        settings.jwt_secret,
        *settings.jwt_previous_secrets,
        settings.jwt_audience,
        settings.jwt_issuer,
        token,
    )
    claims = _verified.get(cache_key)
    if claims is not None:
        if claims.expires_at <= datetime.now(UTC):
            raise TokenExpired("访问令牌已过期，请刷新")
        _verified.move_to_end(cache_key)
        return claims
    claims = _verify(settings, token)
    _verified[cache_key] = claims
    if len(_verified) > _VERIFIED_MAX:
        _verified.popitem(last=False)
    return claims


def _verify(settings: Settings, token: str) -> AccessClaims:
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError as exc:
        raise InvalidToken("令牌格式不正确") from exc
    key = settings.jwt_keys.get(str(header.get("kid")))
    if key is None:
        raise InvalidToken("令牌的签名密钥未知")
    try:
        payload = jwt.decode(
            token,
            key,
            algorithms=[JWT_ALGORITHM],
            audience=settings.jwt_audience,
            issuer=settings.jwt_issuer,
            options={"require": _REQUIRED_CLAIMS},
        )
        # A signed token can still carry times no datetime holds (exp beyond year 9999).
        return AccessClaims(
            subject=uuid.UUID(str(payload["sub"])),
            role=str(payload.get("role", "")),
            issued_at=datetime.fromtimestamp(int(payload["iat"]), UTC),
            expires_at=datetime.fromtimestamp(int(payload["exp"]), UTC),
            token_id=str(payload.get("jti", "")),
        )
    except jwt.ExpiredSignatureError as exc:
        raise TokenExpired("访问令牌已过期，请刷新") from exc
    except (jwt.PyJWTError, ValueError, TypeError, OverflowError, OSError) as exc:
        raise InvalidToken("令牌校验失败") from exc
