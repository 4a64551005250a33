"""Check-in codes: short-lived, signed, bound to one session of one training.

A code is `base64url(payload).base64url(HMAC-SHA256(key, payload))`, the payload being the
training id, the session id, the expiry (Unix seconds) and a random nonce. The key is derived
from JWT_SECRET under its own context, so a code can never pass for an access token or the
reverse. The algorithm is fixed here, never read from the code.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import struct
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from app.trainings.errors import CheckinCodeExpired, CheckinCodeInvalid

_PAYLOAD = struct.Struct(">16s16sQ8s")
_CONTEXT = b"wengang-checkin-v1"


def now() -> datetime:
    """The clock codes are issued and checked against (tests replace it)."""
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class CheckinClaims:
    training_id: uuid.UUID
    session_id: uuid.UUID
    expires_at: datetime
    nonce: str


def _key(secret: str) -> bytes:
    return hmac.new(secret.encode(), _CONTEXT, hashlib.sha256).digest()


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def issue(
    secret: str, training_id: uuid.UUID, session_id: uuid.UUID, ttl_seconds: int
) -> tuple[str, datetime]:
    expires_at = (now() + timedelta(seconds=ttl_seconds)).replace(microsecond=0)
    payload = _PAYLOAD.pack(
        training_id.bytes, session_id.bytes, int(expires_at.timestamp()), secrets.token_bytes(8)
    )
    signature = hmac.new(_key(secret), payload, hashlib.sha256).digest()
    return f"{_b64(payload)}.{_b64(signature)}", expires_at


def verify(secret: str, code: str) -> CheckinClaims:
    """The claims of a genuine, unexpired code; `CheckinCodeInvalid` / `CheckinCodeExpired`."""
    try:
        encoded, encoded_signature = code.strip().split(".")
        payload, signature = _unb64(encoded), _unb64(encoded_signature)
    except ValueError as exc:  # wrong shape, bad base64
        raise CheckinCodeInvalid("签到码格式不正确") from exc
    expected = hmac.new(_key(secret), payload, hashlib.sha256).digest()
    if len(payload) != _PAYLOAD.size or not hmac.compare_digest(signature, expected):
        raise CheckinCodeInvalid("签到码校验失败")
    training, session, expiry, nonce = _PAYLOAD.unpack(payload)
    expires_at = datetime.fromtimestamp(expiry, UTC)
    if now() >= expires_at:
        raise CheckinCodeExpired("签到码已过期，请让协管员刷新二维码后重新扫码")
    return CheckinClaims(
        uuid.UUID(bytes=training), uuid.UUID(bytes=session), expires_at, nonce.hex()
    )
