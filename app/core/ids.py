"""Time-ordered identifiers for append-only tables.

A random (version 4) UUID as the key of a table that only grows scatters every insert over the
whole primary-key index: each one lands on a page that is probably not in memory, and the first
change of a page after a checkpoint writes the whole page to the WAL. A version 7 UUID (RFC 9562)
starts with the Unix time in milliseconds, so new keys go to the right edge of the index, the
way a sequence's would, while staying unguessable and mergeable across databases.
"""

from __future__ import annotations

import os
import time
import uuid

_VERSION = 7 << 76  # bits 76-79: the version nibble
_VARIANT = 0b10 << 62  # bits 62-63: RFC 9562's variant
_TIME_MASK = (1 << 48) - 1
_RANDOM_MASK = ~((0xF << 76) | (0b11 << 62)) & ((1 << 80) - 1)


def uuid7() -> uuid.UUID:
    """A version 7 UUID: 48 bits of Unix milliseconds, then 74 random bits. Keys made in the
    same millisecond are in random order among themselves."""
    milliseconds = time.time_ns() // 1_000_000
    random_bits = int.from_bytes(os.urandom(10)) & _RANDOM_MASK
    return uuid.UUID(int=(milliseconds & _TIME_MASK) << 80 | random_bits | _VERSION | _VARIANT)
