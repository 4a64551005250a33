"""A synthetic monitoring feed (`FEED.md`): any record computed from (seed, index) alone, so a
population of millions is served page by page without being held anywhere.

The feed is a log of segments. Segment 0 states every member once, in household order; segment
`e` (1, 2, …: the "nights" after the first) states again the members whose employment changed
that night, one in `change_every`, a few of them leaving the registry. A cursor is a position in
that log; a feed advanced to a later epoch answers an old cursor with the changes since.

Households hold 1 to 6 members: they come in blocks of fifteen whose sizes are a shuffle of
`BLOCK_SIZES`, so where a record's household starts is arithmetic, not a scan. ID numbers are
valid (GB 11643 check digit) and unique: a member's place in the population picks its birth
place, day of the year and sequence number through a bijection, its age only picks the year.
They are never "born" in the demo county (450226), whose seeded population they would meet.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
import struct
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import lru_cache
from operator import mul
from typing import Any

from app.core.periods import SHANGHAI, current_period, is_period
from app.demo.people import (
    CATEGORIES,
    COUNTY_CHANNELS,
    EMPLOYERS,
    FEMALE_CHARS,
    INCOME_MEDIAN,
    MALE_CHARS,
    MONITOR_TYPES,
    PHONE_PREFIXES,
    RELOCATED_SHARE,
    RISKS,
    SURNAMES,
    WAGES,
)
from app.policy.values import (
    LABOUR_FORCE,
    Channel,
    EmploymentStatus,
    HouseholdCategory,
    LabourType,
    Relation,
    WorkRegion,
)

DEFAULT_SEED = 20261129
BLOCK_SIZES = (1, 2, 2, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 6, 6)
BLOCK_RECORDS = sum(BLOCK_SIZES)
BLOCK_HOUSEHOLDS = len(BLOCK_SIZES)
# Birth places of the synthetic people: counties of 柳州 and 桂林, never the demo county.
AREA_CODES = (
    "450202", "450203", "450204", "450205", "450206", "450222", "450223", "450224", "450225",
    "450302", "450303", "450304", "450305", "450311", "450312", "450321", "450323", "450324",
    "450325", "450326", "450327", "450328", "450329", "450330", "450332", "450381",
)  # fmt: skip
DAYS = 365  # day of the birth year, from 1 January
SEQUENCES = 499  # per sex: odd 001-997 for men, even 002-998 for women
ID_SLOTS = len(AREA_CODES) * DAYS * SEQUENCES
MAX_POPULATION = ID_SLOTS
DELETED_SHARE = 0.005  # of segment 0: members who left the registry
CHANGE_DELETED_SHARE = 0.02  # of a night's changes
MEMBER_NO = re.compile(r"^(\d{12})(\d{7})-(\d{2})$")
BAD_KINDS = ("missing_field", "check_digit", "shared_id", "float_id")
_SIXTEEN_BITS = struct.Struct(">32H")
_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK_CHARS = "10X98765432"


class Draws:
    """Uniform draws from a hash of a key: one BLAKE2b digest gives 32 of them, far cheaper
    than seeding a `random.Random` for every record. Offers `random()`, so the demo
    population's weighted choices (`app.demo.people.Weighted`) draw from it too."""

    __slots__ = ("_digest", "_values")

    def __init__(self, *key: object) -> None:
        self._digest = hashlib.blake2b(repr(key).encode(), digest_size=64).digest()
        self._values = list(_SIXTEEN_BITS.unpack(self._digest))

    def random(self) -> float:
        if not self._values:
            self._digest = hashlib.blake2b(self._digest, digest_size=64).digest()
            self._values = list(_SIXTEEN_BITS.unpack(self._digest))
        return self._values.pop() / 65536

    def below(self, n: int) -> int:
        return int(self.random() * n)

    def between(self, low: int, high: int) -> int:
        return low + int(self.random() * (high - low + 1))

    def pick(self, values: Sequence[Any]) -> Any:
        return values[int(self.random() * len(values))]


@dataclass(frozen=True, slots=True)
class Position:
    """A place in the log: segment (0 the population, `e` the changes of night `e`) and
    offset in it."""

    segment: int
    offset: int

    def encode(self) -> str:
        return base64.urlsafe_b64encode(f"v1:{self.segment}:{self.offset}".encode()).decode()

    @classmethod
    def decode(cls, cursor: str) -> Position:
        try:
            text = base64.urlsafe_b64decode(cursor.encode("ascii")).decode("ascii")
            version, segment, offset = text.split(":")
            if version != "v1":
                raise ValueError(version)
            position = cls(int(segment), int(offset))
        except (ValueError, UnicodeError, binascii.Error):
            raise ValueError(f"not a cursor of this feed: {cursor!r}") from None
        if position.segment < 0 or position.offset < 0:
            raise ValueError(f"not a cursor of this feed: {cursor!r}")
        return position


@dataclass(frozen=True)
class Household:
    index: int
    household_no: str
    start: int  # the record index of its first member
    size: int  # its members within the population
    fields: dict[str, Any]  # the household's fields, repeated on each member's record
    head: tuple[bool, int]  # the head's sex (male) and age


class SyntheticFeed:
    """The records of one population: `page(position, limit)` answers what `GET /v1/records`
    serves; the same seed, population, villages and period always give the same records."""

    def __init__(
        self,
        population: int,
        seed: int = DEFAULT_SEED,
        villages: Sequence[str] = (),
        *,
        period: str | None = None,
        epoch: int = 0,
        change_every: int = 20,
        bad_every: int = 0,
    ) -> None:
        if not 0 <= population <= MAX_POPULATION:
            raise ValueError(f"population must be between 0 and {MAX_POPULATION:,}")
        if epoch < 0 or change_every < 1 or bad_every < 0:
            raise ValueError("epoch and bad_every must not be negative, change_every positive")
        if not villages:
            from app.demo.population import demo_villages

            villages = demo_villages()
        self.population = population
        self.seed = seed
        self.villages = tuple(villages)
        self.period = period or current_period()
        if not is_period(self.period):
            raise ValueError(f"period {self.period!r} is not YYYY-MM")
        self.epoch = epoch
        self.change_every = change_every
        self.bad_every = bad_every
        year, month = int(self.period[:4]), int(self.period[5:7])
        self._month = month
        self._reference_year = year
        self._base_time = datetime(year, month, 1, tzinfo=SHANGHAI)
        # The ID bijection: index -> slot, multiplying by a unit modulo ID_SLOTS.
        self._id_step = _unit(ID_SLOTS, seed)
        self._id_shift = Draws(seed, "id").below(ID_SLOTS)
        self._blocks = lru_cache(maxsize=64)(self._block)
        # A page asks for each household once per member: keep the last few.
        self._households = lru_cache(maxsize=256)(self._household)

    # --- the log -------------------------------------------------------------------------------

    def segment_length(self, segment: int) -> int:
        if segment == 0:
            return self.population
        residue = self._residue(segment)
        return max(0, (self.population - residue + self.change_every - 1) // self.change_every)

    def _residue(self, segment: int) -> int:
        return (segment * 7 + self.seed) % self.change_every

    def end(self) -> Position:
        return Position(self.epoch, self.segment_length(self.epoch))

    def page(self, start: Position, limit: int) -> tuple[list[dict[str, Any]], Position, bool]:
        """Up to `limit` records from `start`, where the next page starts, and whether there is
        more. A position past the end of its segment moves on to the next segment."""
        if start.segment > self.epoch or (
            start.segment == self.epoch and start.offset > self.segment_length(start.segment)
        ):
            raise ValueError("the cursor is ahead of this feed")
        records: list[dict[str, Any]] = []
        segment, offset = start.segment, start.offset
        while len(records) < limit:
            length = self.segment_length(segment)
            if offset >= length:
                if segment >= self.epoch:
                    offset = length
                    break
                segment, offset = segment + 1, 0
                continue
            take = min(limit - len(records), length - offset)
            records += [self.record_at(segment, offset + n) for n in range(take)]
            offset += take
        at = self._settle(Position(segment, offset))
        return records, at, at != self.end()

    def _settle(self, at: Position) -> Position:
        """`at`, moved past the segments it has finished (so the last page says no more)."""
        while at.segment < self.epoch and at.offset >= self.segment_length(at.segment):
            at = Position(at.segment + 1, 0)
        return at

    def record_at(self, segment: int, offset: int) -> dict[str, Any]:
        if segment == 0:
            return self.record(offset, 0)
        return self.record(self._residue(segment) + offset * self.change_every, segment)

    # --- one member ----------------------------------------------------------------------------

    def record(self, index: int, epoch: int = 0) -> dict[str, Any]:
        """Member `index` (0-based, in household order) as the feed states it at `epoch`."""
        household = self.household_of(index)
        position = index - household.start
        draws = Draws(self.seed, "member", index)
        relation, male, age = self._person(household, position, draws)
        labour_type = _labour_type(age, draws)
        phone = None
        if age >= 16 and draws.random() < 0.85:
            phone = draws.pick(PHONE_PREFIXES) + f"{draws.below(10**8):08d}"
        name = SURNAMES.pick(draws) + _given_name(draws, male)
        # Drawn last: a night's change redraws it alone, from its own key.
        employment_draws = draws if epoch == 0 else Draws(self.seed, "change", index, epoch)
        employment = None
        if labour_type in LABOUR_FORCE and 16 <= age < 65:
            employment = self._employment(employment_draws)
        record = {
            **household.fields,
            "member_no": f"{household.household_no}-{position + 1:02d}",
            "name": name,
            "id_number": self.id_number(index, age, male),
            "relation": relation,
            "phone": phone,
            "labour_type": labour_type,
            "employment": employment,
            "updated_at": self._updated_at(index, epoch),
            "deleted": self.deleted(index, epoch),
        }
        if self.bad_every and epoch == 0 and index % self.bad_every == self.bad_every - 1:
            self._spoil(record, index)
        return record

    def deleted(self, index: int, epoch: int) -> bool:
        """Whether member `index` has left the registry by `epoch`."""
        if Draws(self.seed, "deleted", index).random() < DELETED_SHARE:
            return True
        for night in range(1, epoch + 1):
            if (index - self._residue(night)) % self.change_every == 0 and (
                Draws(self.seed, "change-deleted", index, night).random() < CHANGE_DELETED_SHARE
            ):
                return True
        return False

    def id_number(self, index: int, age: int, male: bool) -> str:
        slot = (index * self._id_step + self._id_shift) % ID_SLOTS
        slot, sequence = divmod(slot, SEQUENCES)
        area, day = divmod(slot, DAYS)
        # Born the year before `age` years back: never after today, whatever the day.
        born = date(self._reference_year - 1 - age, 1, 1) + timedelta(days=day)
        first17 = f"{AREA_CODES[area]}{born:%Y%m%d}{sequence * 2 + (1 if male else 2):03d}"
        return first17 + _check_digit(first17)

    def _updated_at(self, index: int, epoch: int) -> str:
        moment = self._base_time + timedelta(days=epoch, seconds=index % 86_400)
        return moment.isoformat()

    def _spoil(self, record: dict[str, Any], index: int) -> None:
        """A malformed record, of the kinds county data has."""
        kind = BAD_KINDS[(index // self.bad_every) % len(BAD_KINDS)]
        id_number = record["id_number"]
        if kind == "missing_field":
            del record["village_code"]
            del record["labour_type"]
        elif kind == "check_digit":
            wrong = "0" if id_number[-1] != "0" else "1"
            record["id_number"] = id_number[:17] + wrong
        elif kind == "shared_id" and index > 0:
            # The member before this one keeps its number: two members share it.
            previous = self.record(index - 1)
            record["id_number"] = previous["id_number"]
        else:
            record["id_number"] = f"{float(id_number[:17] + '0'):.5E}"

    # --- households ----------------------------------------------------------------------------

    def household_of(self, index: int) -> Household:
        if not 0 <= index < self.population:
            raise IndexError(index)
        block, offset = divmod(index, BLOCK_RECORDS)
        sizes = self._blocks(block)
        start = block * BLOCK_RECORDS
        for position, size in enumerate(sizes):
            if offset < size:
                return self._households(block * BLOCK_HOUSEHOLDS + position, start, size)
            offset -= size
            start += size
        raise AssertionError("block sizes do not cover the block")

    def household(self, number: int) -> Household | None:
        """Household `number` (0-based), or None when the population ends before it."""
        block, position = divmod(number, BLOCK_HOUSEHOLDS)
        sizes = self._blocks(block)
        start = block * BLOCK_RECORDS + sum(sizes[:position])
        if start >= self.population:
            return None
        return self._households(number, start, sizes[position])

    def _block(self, block: int) -> tuple[int, ...]:
        draws = Draws(self.seed, "block", block)
        sizes = list(BLOCK_SIZES)
        for i in range(len(sizes) - 1, 0, -1):  # Fisher-Yates
            j = draws.below(i + 1)
            sizes[i], sizes[j] = sizes[j], sizes[i]
        return tuple(sizes)

    def _household(self, number: int, start: int, size: int) -> Household:
        draws = Draws(self.seed, "household", number)
        village = draws.pick(self.villages)
        category = CATEGORIES.pick(draws)
        monitor_type = None
        risks: list[str] = []
        eliminated = False
        if category == HouseholdCategory.monitored:
            monitor_type = MONITOR_TYPES.pick(draws)
            risks.append(RISKS.pick(draws))
            second = RISKS.pick(draws)
            if draws.random() < 0.4 and second not in risks:
                risks.append(second)
            eliminated = draws.random() < 0.4
        income = INCOME_MEDIAN[category] * (0.6 + 0.8 * draws.random())
        household_no = f"{village}{number:07d}"
        return Household(
            index=number,
            household_no=household_no,
            start=start,
            size=min(size, self.population - start),
            fields={
                "household_no": household_no,
                "village_code": village,
                "household_category": category,
                "monitor_type": monitor_type,
                "risk_types": risks,
                "risk_eliminated": eliminated,
                "relocated": draws.random() < RELOCATED_SHARE[category],
                "income_per_capita": round(income, 2),
            },
            head=(draws.random() < 0.88, draws.between(28, 78)),
        )

    def _person(self, household: Household, position: int, draws: Draws) -> tuple[str, bool, int]:
        head_male, head_age = household.head
        if position == 0:
            return Relation.head.value, head_male, head_age
        if position == 1 and household.size > 1 and draws.random() < 0.9:
            age = min(max(head_age + draws.between(-4, 3), 20), 90)
            return Relation.spouse.value, not head_male, age
        if head_age < 45 and draws.random() < 0.15:
            male = draws.random() < 0.5
            relation = Relation.father if male else Relation.mother
            return relation.value, male, head_age + draws.between(22, 32)
        if head_age >= 60 and draws.random() < 0.3:
            male = draws.random() < 0.52
            relation = Relation.grandson if male else Relation.granddaughter
            return relation.value, male, draws.between(0, 15)
        male = draws.random() < 0.52
        relation = Relation.son if male else Relation.daughter
        return relation.value, male, draws.between(max(head_age - 45, 0), max(head_age - 20, 0))

    def _employment(self, draws: Draws) -> dict[str, Any]:
        months_so_far = self._month
        if draws.random() >= 0.72:
            return {
                "status": EmploymentStatus.not_working.value, "region": None, "channel": None,
                "employer": None, "months": 0, "income": None, "period": self.period,
            }  # fmt: skip
        where = draws.random()
        if where < 0.5:
            region, channel = WorkRegion.out_of_province.value, Channel.migrant.value
            low, high = WAGES[region]
            employer = draws.pick(EMPLOYERS[region])
        elif where < 0.7:
            region, channel = WorkRegion.in_province.value, Channel.migrant.value
            low, high = WAGES[region]
            employer = draws.pick(EMPLOYERS[region])
        else:
            region, channel = WorkRegion.in_county.value, COUNTY_CHANNELS.pick(draws)
            low, high = WAGES[channel]
            employer = draws.pick(EMPLOYERS[channel])
        months = draws.between(1, months_so_far)
        wage = draws.between(low // 50, high // 50) * 50
        return {
            "status": EmploymentStatus.working.value,
            "region": region,
            "channel": channel,
            "employer": employer,
            "months": months,
            "income": months * wage,
            "period": self.period,
        }

    # --- member numbers ------------------------------------------------------------------------

    def index_of(self, member_no: str) -> int | None:
        """The index of the member numbered `member_no`, or None when there is none."""
        match = MEMBER_NO.match(member_no)
        if match is None:
            return None
        village, number, position = match[1], int(match[2]), int(match[3]) - 1
        household = self.household(number)
        if household is None or household.household_no[:12] != village:
            return None
        if not 0 <= position < household.size:
            return None
        return household.start + position


def _check_digit(first17: str) -> str:
    """`app.households.id_number.check_digit`, a little faster for a million of them."""
    return _CHECK_CHARS[sum(map(mul, map(int, first17), _WEIGHTS)) % 11]


def _unit(modulus: int, seed: int) -> int:
    """A number coprime with `modulus`, from the seed: multiplying by it permutes the slots."""
    from math import gcd

    candidate = modulus // 3 + Draws(seed, "unit").below(modulus // 3)
    while gcd(candidate, modulus) != 1:
        candidate += 1
    return candidate


def _given_name(draws: Draws, male: bool) -> str:
    chars = MALE_CHARS if male else FEMALE_CHARS
    if draws.random() < 0.75:
        return draws.pick(chars) + draws.pick(chars)
    return str(draws.pick(chars))


def _labour_type(age: int, draws: Draws) -> str:
    share = draws.random()
    if age < 16:
        return LabourType.none.value
    if age < 60:
        if share < 0.68:
            return LabourType.ordinary.value
        if share < 0.86:
            return LabourType.skilled.value
        if share < 0.96:
            return LabourType.weak.value
        return LabourType.lost.value
    if age < 70:
        if share < 0.5:
            return LabourType.weak.value
        return LabourType.none.value if share < 0.8 else LabourType.lost.value
    return LabourType.none.value if share < 0.8 else LabourType.lost.value
