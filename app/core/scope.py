"""Region scope: who may see what, applied in SQL as ranges over 12-digit division codes.

A division code nests by prefix: province (2 significant digits), city (4), county (6),
township (9), village (12). Everything under a region lies in one contiguous code range, so
"within the caller's regions" is a few indexable range predicates, never a filter after loading.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TypeVar

from sqlalchemy import ColumnElement, Select, and_, false, or_, true

CODE_PATTERN = re.compile(r"^\d{12}$")


class RegionLevel(StrEnum):
    province = "province"
    city = "city"
    county = "county"
    township = "township"
    village = "village"


# Significant digits of a code at each level, outermost first.
LEVEL_DIGITS: dict[RegionLevel, int] = {
    RegionLevel.province: 2,
    RegionLevel.city: 4,
    RegionLevel.county: 6,
    RegionLevel.township: 9,
    RegionLevel.village: 12,
}


def is_region_code(code: str) -> bool:
    return bool(CODE_PATTERN.match(code))


def level_of(code: str) -> RegionLevel:
    """The level a code denotes: the deepest segment that is not all zeros."""
    level = RegionLevel.province
    start = 0
    for candidate, digits in LEVEL_DIGITS.items():
        if code[start:digits].strip("0"):
            level = candidate
        start = digits
    return level


def parent_of(code: str) -> str | None:
    level = level_of(code)
    levels = list(LEVEL_DIGITS)
    index = levels.index(level)
    if index == 0:
        return None
    digits = LEVEL_DIGITS[levels[index - 1]]
    return code[:digits].ljust(12, "0")


def code_range(code: str) -> tuple[str, str]:
    """The first and last code under `code` (itself included)."""
    digits = LEVEL_DIGITS[level_of(code)]
    prefix = code[:digits]
    return prefix.ljust(12, "0"), prefix.ljust(12, "9")


def contains(outer: str, inner: str) -> bool:
    low, high = code_range(outer)
    return low <= inner <= high


class ScopeKind(StrEnum):
    everything = "everything"  # admins and system jobs
    regions = "regions"  # managers (one region) and coordinators (their villages)
    nothing = "nothing"  # villagers: they reach their own records by member, not by region


@dataclass(frozen=True, slots=True)
class Scope:
    kind: ScopeKind
    region_codes: tuple[str, ...] = field(default_factory=tuple)

    @classmethod
    def everything(cls) -> Scope:
        return cls(ScopeKind.everything)

    @classmethod
    def nothing(cls) -> Scope:
        return cls(ScopeKind.nothing)

    @classmethod
    def of_regions(cls, codes: list[str] | tuple[str, ...]) -> Scope:
        return cls(ScopeKind.regions, tuple(sorted(set(codes))))

    def covers(self, code: str) -> bool:
        if self.kind is ScopeKind.everything:
            return True
        return any(contains(root, code) for root in self.region_codes)

    def code_ranges(self) -> tuple[list[str], list[str]]:
        """This scope as lowest and highest division codes, for SQL written by hand
        (`code BETWEEN low AND high` for any pair); nothing for a villager's scope."""
        if self.kind is ScopeKind.everything:
            return ["000000000000"], ["999999999999"]
        if self.kind is ScopeKind.nothing:
            return [], []
        ranges = [code_range(code) for code in self.region_codes]
        return [low for low, _ in ranges], [high for _, high in ranges]

    def region_filter(self, column: ColumnElement[str]) -> ColumnElement[bool]:
        """A SQL predicate: `column` (a division code) lies within this scope."""
        if self.kind is ScopeKind.everything:
            return true()
        if self.kind is ScopeKind.nothing or not self.region_codes:
            return false()
        villages = [c for c in self.region_codes if level_of(c) is RegionLevel.village]
        areas = [c for c in self.region_codes if level_of(c) is not RegionLevel.village]
        predicates: list[ColumnElement[bool]] = []
        if villages:
            predicates.append(column.in_(villages))
        for code in areas:
            low, high = code_range(code)
            predicates.append(and_(column >= low, column <= high))
        return or_(*predicates)


SelectT = TypeVar("SelectT", bound=Select)  # type: ignore[type-arg]


def apply_scope(statement: SelectT, column: ColumnElement[str], scope: Scope) -> SelectT:
    """The one way scoped data is queried: add the caller's region predicate to `statement`."""
    return statement.where(scope.region_filter(column))
