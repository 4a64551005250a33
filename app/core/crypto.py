"""Personal data at rest: AES-GCM encryption and a keyed HMAC blind index for lookups."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
from functools import lru_cache

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from app.core.config import Settings

_NONCE_BYTES = 12

# Blind-index contexts are per kind of value, not per column, so the same phone finds both an
# account and a member. Cipher contexts are per column (a ciphertext cannot be moved).
PHONE_INDEX = b"phone"
ID_NUMBER_INDEX = b"id_number"
_VERSION = b"\x01"  # leading byte, so the scheme can change without guessing


class PiiCipher:
    def __init__(self, key: bytes, index_key: bytes) -> None:
        if len(key) not in (16, 24, 32):
            raise ValueError("PII_KEY must decode to 16, 24 or 32 bytes")
        self._aead = AESGCM(key)
        self._index_key = index_key

    @classmethod
    def from_settings(cls, settings: Settings) -> PiiCipher:
        return _cipher(settings.pii_key, settings.pii_index_key)

    def encrypt(self, plaintext: str, *, context: bytes) -> bytes:
        """`context` (e.g. b"user.phone") binds a ciphertext to its column: no swapping."""
        nonce = os.urandom(_NONCE_BYTES)
        return _VERSION + nonce + self._aead.encrypt(nonce, plaintext.encode(), context)

    def decrypt(self, blob: bytes, *, context: bytes) -> str:
        nonce, sealed = blob[1 : 1 + _NONCE_BYTES], blob[1 + _NONCE_BYTES :]
        return self._aead.decrypt(nonce, sealed, context).decode()

    def blind_index(self, value: str, *, context: bytes) -> bytes:
        return hmac.new(
            self._index_key, context + b"\x00" + value.encode(), hashlib.sha256
        ).digest()


@lru_cache(maxsize=4)
def _cipher(key_b64: str, index_key: str) -> PiiCipher:
    return PiiCipher(base64.b64decode(key_b64), index_key.encode())


def mask_phone(phone: str | None) -> str | None:
    if not phone:
        return phone
    return phone[:3] + "****" + phone[-4:] if len(phone) >= 7 else "****"


def mask_id_number(id_number: str | None) -> str | None:
    if not id_number:
        return id_number
    return id_number[:6] + "*" * (len(id_number) - 10) + id_number[-4:]
