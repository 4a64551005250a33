"""`If-Match` (RFC 9110 §13.1.1) against a row's integer version, whose ETag is `"<version>"`."""

from __future__ import annotations

import re
from dataclasses import dataclass

# One entity tag: optional weakness, then an opaque tag in double quotes.
# What the document states an `If-Match` may be (the ASCII part of what is parsed).
IF_MATCH_PATTERN = r'^ *(\*|(W/)?"[\x21\x23-\x7e]*" *(, *(W/)?"[\x21\x23-\x7e]*" *)*)$'
_ENTITY_TAG = re.compile(r'\s*(W/)?"([\x21\x23-\x7e\x80-\xff]*)"\s*')


@dataclass(frozen=True, slots=True)
class IfMatch:
    """`*` (any current version) or the versions named by strong entity tags. If-Match
    compares strongly: a weak tag (`W/"3"`) matches nothing, nor does a tag that is no
    version of ours."""

    any_version: bool = False
    versions: frozenset[int] = frozenset()

    def matches(self, version: int) -> bool:
        return self.any_version or version in self.versions

    def describe(self) -> str:
        return "*" if self.any_version else ", ".join(f'"{v}"' for v in sorted(self.versions))


def parse_if_match(value: str) -> IfMatch:
    """Raises ValueError unless `value` is `*` or a comma-separated list of entity tags."""
    if value.strip() == "*":
        return IfMatch(any_version=True)
    versions: set[int] = set()
    for part in value.split(","):
        match = _ENTITY_TAG.fullmatch(part)
        if match is None:
            raise ValueError(value)
        weak, opaque = match.groups()
        if not weak and opaque.isascii() and opaque.isdigit() and len(opaque) <= 18:
            versions.add(int(opaque))
    return IfMatch(versions=frozenset(versions))
