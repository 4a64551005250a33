"""Synthetic households for the demo county: plausible, deterministic, cheap per row.

Everything is drawn from one `random.Random`, in one order, so a seed always gives the same
population. Rows come out as tuples in the column order of `population.*_COLUMNS`, for COPY.
The shares below are the demo's assumptions, not policy: they only have to look like a county.
"""

from __future__ import annotations

import hashlib
import itertools
import random
import uuid
from bisect import bisect
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from app.core.crypto import ID_NUMBER_INDEX, PHONE_INDEX, PiiCipher
from app.households.id_number import check_digit
from app.households.views import ID_NUMBER_CIPHER, PHONE_CIPHER
from app.policy.values import (
    LABOUR_FORCE,
    Channel,
    HouseholdCategory,
    Intent,
    LabourType,
    MonitorType,
    ObservationSource,
    Relation,
    RiskType,
    WorkRegion,
)

AREA_CODE = "450226"  # 三江侗族自治县: every synthetic ID number is "born" in the demo county
SEQUENCES = 499  # per birth day and sex: 001-997 odd for men, 002-998 even for women
FEED = ObservationSource.feed.value
# Zero-employment households (零就业家庭) are cleared continuously, so few remain at any time.
ZERO_EMPLOYMENT_SHARE = 0.03


class Weighted:
    """A weighted choice: one `random()` and a bisect (`Random.choices` costs five times more)."""

    def __init__(self, pairs: Sequence[tuple[object, float]]) -> None:
        self.values = [value for value, _ in pairs]
        self.bounds = list(itertools.accumulate(weight for _, weight in pairs))
        self.total = self.bounds[-1]

    def pick(self, rng: random.Random) -> Any:
        return self.values[bisect(self.bounds, rng.random() * self.total)]


SURNAMES = Weighted(
    [
        ("吴", 14), ("杨", 13), ("石", 8), ("龙", 7), ("梁", 7), ("潘", 6), ("韦", 6), ("陆", 5),
        ("欧", 4), ("莫", 4), ("覃", 4), ("黄", 4), ("李", 3), ("王", 3), ("张", 3), ("陈", 3),
        ("刘", 2), ("粟", 2), ("曹", 2), ("廖", 2), ("蒙", 2), ("谢", 1), ("荣", 1), ("胡", 1),
    ]
)  # fmt: skip
MALE_CHARS = "建国军明华伟强勇志海文平林成福贵荣生德忠庆春宏家俊杰浩宇鹏涛光远金辉"
FEMALE_CHARS = "秀英兰梅芳丽玉珍凤花红艳娟霞燕琴敏静婷雪丹慧莲桂金银春月晓美"
# No 138: the demo accounts' phones live there.
PHONE_PREFIXES = tuple(
    str(prefix) for prefix in (*range(130, 138), 139, 150, 151, 152, 155, 157, 158, 159, 166, 177)
) + tuple(str(prefix) for prefix in (*range(180, 190), 198, 199))

CATEGORIES = Weighted(
    [
        (HouseholdCategory.lifted.value, 55),
        (HouseholdCategory.monitored.value, 15),
        (HouseholdCategory.ordinary.value, 30),
    ]
)
MONITOR_TYPES = Weighted(
    [
        (MonitorType.unstable.value, 40),
        (MonitorType.edge.value, 45),
        (MonitorType.sudden_hardship.value, 15),
    ]
)
RISKS = Weighted(
    [
        (RiskType.illness.value, 30),
        (RiskType.disability.value, 15),
        (RiskType.schooling.value, 15),
        (RiskType.disaster.value, 8),
        (RiskType.accident.value, 7),
        (RiskType.unstable_work.value, 15),
        (RiskType.lacks_labour.value, 10),
    ]
)
# Median per-capita income by category; the lifted households' mean lands near 14,342 yuan.
INCOME_MEDIAN = {
    HouseholdCategory.lifted.value: 13_800,
    HouseholdCategory.monitored.value: 10_500,
    HouseholdCategory.ordinary.value: 16_500,
}
RELOCATED_SHARE = {
    HouseholdCategory.lifted.value: 0.12,
    HouseholdCategory.monitored.value: 0.05,
    HouseholdCategory.ordinary.value: 0.02,
}
HOUSEHOLD_SIZES = Weighted([(3, 35), (4, 35), (5, 20), (6, 10)])
SKILLS = ("电工", "焊工", "厨师", "砌筑工", "驾驶员", "缝纫工", "家政服务", "电子装配", "侗绣")
TRAINING = ("电工", "焊工", "中式烹调", "家政服务", "电子商务", "养殖技术", "茶叶种植", "育婴员")
JOB_TYPES = ("普工", "保洁", "建筑", "餐饮服务", "快递配送", "电子装配", "保安", "茶叶加工")

# Employment histories: one job per person, worked through a mask of months.
STABLE_OUT, STABLE_PROVINCE, COUNTY, RETURNEE, UNSTABLE, NEVER = range(6)
ORDINARY_PATTERNS = Weighted(
    [
        (STABLE_OUT, 36),
        (STABLE_PROVINCE, 10),
        (COUNTY, 18),
        (RETURNEE, 8),
        (UNSTABLE, 10),
        (NEVER, 18),
    ]
)
WEAK_PATTERNS = Weighted([(COUNTY, 40), (UNSTABLE, 20), (NEVER, 40)])
OUT, PROVINCE, COUNTY_REGION = (
    WorkRegion.out_of_province.value,
    WorkRegion.in_province.value,
    WorkRegion.in_county.value,
)
EMPLOYERS = {
    OUT: (
        "东莞市长安镇电子厂", "深圳市宝安区制衣厂", "佛山市顺德区家具厂", "广州市白云区物流公司",
        "义乌市小商品物流园", "晋江市鞋业公司", "中山市灯饰厂", "惠州市电池厂",
    ),
    PROVINCE: ("柳州市汽车配件厂", "柳州市螺蛳粉产业园", "桂林市阳朔酒店", "南宁市建筑工地"),
    Channel.public_welfare_post.value: ("村保洁员", "护林员", "护路员", "村级水管员"),
    Channel.assistance_workshop.value: (
        "三江县侗绣帮扶车间", "三江县茶叶加工帮扶车间", "古宜镇竹编帮扶车间",
    ),
    Channel.flexible.value: ("县城餐饮店", "程阳八寨景区", "县城建筑工地"),
    Channel.self_employed.value: ("自营茶园", "自营农家乐", "自营小卖部"),
    Channel.farming.value: ("自家茶园", "油茶种植", "稻田养鱼"),
}  # fmt: skip
COUNTY_CHANNELS = Weighted(
    [
        (Channel.public_welfare_post.value, 30),
        (Channel.assistance_workshop.value, 30),
        (Channel.flexible.value, 20),
        (Channel.self_employed.value, 8),
        (Channel.farming.value, 12),
    ]
)
# Monthly wage range in yuan, by region for migrants and by channel in the county.
WAGES = {
    OUT: (4_000, 6_500),
    PROVINCE: (3_200, 5_000),
    Channel.public_welfare_post.value: (800, 1_500),
    Channel.assistance_workshop.value: (2_000, 3_200),
    Channel.flexible.value: (1_800, 3_500),
    Channel.self_employed.value: (2_500, 6_000),
    Channel.farming.value: (800, 2_000),
}
WAGE_STEP = 50  # yuan; a month's income is (wage step + that month's drift) x WAGE_STEP
WAGE_DRIFT = (0, 1, -1, 2, 0, -2, 1, 0, -1, 2, -2, 1)  # by calendar month, in steps

NO_INTENT_REASONS = Weighted(
    [("照顾家庭", 40), ("身体原因", 30), ("年龄偏大", 15), ("以务农为主", 15)]
)
STUDENT_REASON = "在校学生"
HEAD, SPOUSE, FATHER, MOTHER = (
    Relation.head.value,
    Relation.spouse.value,
    Relation.father.value,
    Relation.mother.value,
)
SON, DAUGHTER, DAUGHTER_IN_LAW = (
    Relation.son.value,
    Relation.daughter.value,
    Relation.daughter_in_law.value,
)
GRANDSON, GRANDDAUGHTER = Relation.grandson.value, Relation.granddaughter.value
ORDINARY, SKILLED, WEAK = (
    LabourType.ordinary.value, LabourType.skilled.value, LabourType.weak.value
)  # fmt: skip
LOST, NO_LABOUR = LabourType.lost.value, LabourType.none.value
LIFTED, MONITORED = HouseholdCategory.lifted.value, HouseholdCategory.monitored.value
GO_OUT, NEARBY, NO_INTENT = Intent.go_out.value, Intent.nearby.value, Intent.none.value
# Intent by employment pattern: (外出, 就近, 无意愿) weights.
INTENTS = {
    STABLE_OUT: Weighted([(GO_OUT, 85), (NEARBY, 15)]),
    STABLE_PROVINCE: Weighted([(GO_OUT, 80), (NEARBY, 20)]),
    COUNTY: Weighted([(GO_OUT, 10), (NEARBY, 85), (NO_INTENT, 5)]),
    RETURNEE: Weighted([(GO_OUT, 45), (NEARBY, 35), (NO_INTENT, 20)]),
    UNSTABLE: Weighted([(GO_OUT, 50), (NEARBY, 45), (NO_INTENT, 5)]),
    NEVER: Weighted([(GO_OUT, 15), (NEARBY, 35), (NO_INTENT, 50)]),
}
INTENT_SHARE = 0.85  # the rest have not been asked yet


@dataclass
class Chunk:
    """Rows for one batch of households, in COPY column order. Employment comes as one plan
    per labourer (months worked as a bit mask, the job, months worked this year at each
    period): a twelfth of the rows to draw and send, expanded by the database."""

    households: list[tuple] = field(default_factory=list)
    members: list[tuple] = field(default_factory=list)
    employment_plans: list[tuple] = field(default_factory=list)
    intents: list[tuple] = field(default_factory=list)


@dataclass(frozen=True)
class Calendar:
    """The months of history: periods oldest first, when each was observed, and its month."""

    periods: tuple[str, ...]
    observed_at: tuple[datetime, ...]
    reference: date  # ages are counted at the first day of the last period

    @property
    def month_numbers(self) -> tuple[int, ...]:
        return tuple(int(period[5:7]) for period in self.periods)


class PopulationGenerator:
    """Draws households one after another; `chunk(n)` returns the next n as rows.

    About thirty draws per person, a million people: draws go through `_below` and `_pick`
    (one `random()` each) rather than `randint` and `choice` (several calls each).
    """

    def __init__(
        self,
        rng: random.Random,
        cipher: PiiCipher,
        villages: Sequence[str],
        calendar: Calendar,
        taken_id_indexes: set[bytes] | None = None,
    ) -> None:
        self.rng = rng
        self.random = rng.random
        self.cipher = cipher
        self.calendar = calendar
        self.taken = taken_id_indexes or set()
        # Villages differ in size; each household picks one by weight.
        self.villages = Weighted([(code, rng.uniform(0.6, 1.4)) for code in villages])
        self.serials = dict.fromkeys(villages, 0)
        # Ids rise within a run (a random base plus a counter): primary-key and foreign-key
        # index pages stay hot while a million rows go in, instead of being hit at random.
        # The villages salt the base: one seed used for two sets of villages gives two ranges.
        salt = int.from_bytes(hashlib.sha256(",".join(villages).encode()).digest()[:8], "big")
        base = uuid.UUID(int=(rng.getrandbits(64) ^ salt) << 64, version=4).int
        self._ids = itertools.count(base + 1)
        # Per (birth day, sex) where its sequence numbers start and how many are handed out.
        self._sequences: dict[tuple[int, bool], list[int]] = {}  # [start, used]
        self._reference_ordinal = calendar.reference.toordinal()
        self._dates: dict[int, str] = {}
        months = calendar.month_numbers
        self._months = months
        self._last_bit = 1 << (len(months) - 1)
        self._worked_cache: dict[tuple[int, bool], list[int]] = {}

    def _uuid(self) -> uuid.UUID:
        return uuid.UUID(int=next(self._ids))

    def _below(self, n: int) -> int:
        return int(self.random() * n)

    def _between(self, low: int, high: int) -> int:
        """Like `randint`: low and high included."""
        return low + int(self.random() * (high - low + 1))

    def _pick(self, values: Sequence[Any]) -> Any:
        return values[int(self.random() * len(values))]

    # --- one household ---------------------------------------------------------------------

    def chunk(self, households: int) -> Chunk:
        chunk = Chunk()
        for _ in range(households):
            self._household(chunk)
        return chunk

    def _household(self, chunk: Chunk) -> None:
        rng, random_ = self.rng, self.random
        village = self.villages.pick(rng)
        self.serials[village] += 1
        household_no = f"{village}{self.serials[village]:04d}"
        household_id = self._uuid()
        category = CATEGORIES.pick(rng)
        monitored = category == MONITORED
        risks: list[str] = []
        monitor_type = None
        eliminated = False
        if monitored:
            monitor_type = MONITOR_TYPES.pick(rng)
            risks.append(RISKS.pick(rng))
            if random_() < 0.4:
                second = RISKS.pick(rng)
                if second not in risks:
                    risks.append(second)
            eliminated = random_() < 0.4
        relocated = random_() < RELOCATED_SHARE[category]
        income = INCOME_MEDIAN[category] * rng.lognormvariate(0.0, 0.3)

        members = chunk.members
        labour: list[tuple[uuid.UUID, str, bool]] = []  # (member id, labour type, in school)
        disabled = False
        for index, (relation, male, age, surname) in enumerate(self._family(), start=1):
            member_id = self._uuid()
            labour_type, in_school, disability, skills = self._capacity(age)
            disabled = disabled or disability
            members.append(
                (
                    member_id,
                    household_id,
                    f"{household_no}-{index:02d}",
                    surname + self._given_name(male),
                    *self._id_number(age, male),
                    *self._phone(age),
                    relation,
                    labour_type,
                    skills,
                    in_school,
                    disability,
                    1,
                )
            )
            if labour_type in LABOUR_FORCE:
                labour.append((member_id, labour_type, in_school))
        if monitored:
            if disabled and RiskType.disability.value not in risks and random_() < 0.5:
                risks.append(RiskType.disability.value)
            if not labour and RiskType.lacks_labour.value not in risks:
                risks.append(RiskType.lacks_labour.value)
        chunk.households.append(
            (
                household_id,
                household_no,
                village,
                category,
                monitor_type,
                risks,
                eliminated,
                relocated,
                Decimal(f"{income:.2f}"),
                1,
            )
        )
        if labour:
            zero = category == LIFTED and random_() < ZERO_EMPLOYMENT_SHARE
            self._employment(chunk, labour, zero)

    def _family(self) -> list[tuple[str, bool, int, str]]:
        """(relation, male, age, surname) of a head, usually a spouse, then parents, children
        or a son's family: 3 to 6 people. Heads skew old, as village households do."""
        rng, random_, between = self.rng, self.random, self._between
        size = HOUSEHOLD_SIZES.pick(rng)
        head_age = between(28, 78)
        head_male = random_() < 0.88
        surname = SURNAMES.pick(rng)
        people = [(HEAD, head_male, head_age, surname)]
        children_surname = surname
        if random_() < 0.92:
            spouse_surname = SURNAMES.pick(rng)
            spouse_age = min(max(head_age + between(-4, 3), 20), 90)
            people.append((SPOUSE, not head_male, spouse_age, spouse_surname))
            if not head_male:
                children_surname = spouse_surname
        if head_age < 45 and size - len(people) >= 2 and random_() < 0.45:
            father_age = head_age + between(24, 32)
            people.append((FATHER, True, father_age, surname))
            if size - len(people) >= 2:
                people.append((MOTHER, False, father_age + between(-5, 2), SURNAMES.pick(rng)))
        elif head_age >= 55 and size - len(people) >= 3 and random_() < 0.5:
            son_age = head_age - between(24, 33)
            people.append((SON, True, son_age, children_surname))
            daughter_in_law_age = max(son_age + between(-4, 2), 18)
            people.append((DAUGHTER_IN_LAW, False, daughter_in_law_age, SURNAMES.pick(rng)))
            while len(people) < size:
                male = random_() < 0.52
                age = between(0, max(son_age - 20, 0))
                people.append((GRANDSON if male else GRANDDAUGHTER, male, age, children_surname))
        while len(people) < size:
            male = random_() < 0.52
            age = between(max(head_age - 45, 0), max(head_age - 20, 0))
            people.append((SON if male else DAUGHTER, male, age, children_surname))
        return people

    def _given_name(self, male: bool) -> str:
        chars = MALE_CHARS if male else FEMALE_CHARS
        if self.random() < 0.75:
            return self._pick(chars) + self._pick(chars)
        return self._pick(chars)

    def _capacity(self, age: int) -> tuple[str, bool, bool, list[str]]:
        """Labour type, in school, disability and skills, from age (and a little luck)."""
        random_ = self.random
        disability = random_() < 0.04
        in_school = False
        if age < 16:
            return NO_LABOUR, age >= 6, disability, []
        if age <= 22:
            in_school = random_() < (0.6 if age <= 18 else 0.2)
        if age >= 65:
            return (NO_LABOUR if random_() < 0.7 else LOST), False, disability, []
        if age >= 60:
            draw = random_()
            kind = WEAK if draw < 0.45 else NO_LABOUR if draw < 0.8 else LOST
            return kind, False, disability, []
        if disability:
            return (LOST if random_() < 0.6 else WEAK), in_school, True, []
        if in_school:
            return ORDINARY, True, False, []
        draw = random_()
        skilled, weak = (0.10, 0.30) if age >= 50 else (0.18, 0.12)
        if draw < skilled:
            skills = [self._pick(SKILLS)]
            if random_() < 0.3:
                extra = self._pick(SKILLS)
                if extra != skills[0]:
                    skills.append(extra)
            return SKILLED, False, False, skills
        if draw < skilled + weak:
            return WEAK, False, False, []
        return ORDINARY, False, False, [self._pick(SKILLS)] if random_() < 0.1 else []

    def _id_number(self, age: int, male: bool) -> tuple[bytes, bytes]:
        """Cipher and blind index of a valid, unique ID number (GB 11643) born in the county.

        Birth day from age. Sequence numbers of one day and sex (odd for men, even for women,
        as the standard has it) are handed out from a random start, wrapping round: unique by
        construction, and not all 001; a full day moves to the day before.
        """
        cipher, sequences = self.cipher, self._sequences
        ordinal = self._reference_ordinal - int(age * 365.2425) - self._below(365)
        parity = 1 if male else 2
        while True:
            key = (ordinal, male)
            state = sequences.get(key)
            if state is None:
                state = sequences[key] = [self._below(SEQUENCES), 0]
            start, used = state
            if used >= SEQUENCES:
                ordinal -= 1
                continue
            state[1] = used + 1
            birth = self._dates.get(ordinal)
            if birth is None:
                birth = self._dates[ordinal] = date.fromordinal(ordinal).strftime("%Y%m%d")
            sequence = (start + used) % SEQUENCES * 2 + parity
            first17 = f"{AREA_CODE}{birth}{sequence:03d}"
            id_number = first17 + check_digit(first17)
            index = cipher.blind_index(id_number, context=ID_NUMBER_INDEX)
            if index not in self.taken:  # someone already stored: take the next number
                return cipher.encrypt(id_number, context=ID_NUMBER_CIPHER), index

    def _phone(self, age: int) -> tuple[bytes | None, bytes | None]:
        if age < 18 or self.random() >= 0.7:
            return None, None
        phone = f"{self._pick(PHONE_PREFIXES)}{self._below(100_000_000):08d}"
        return (
            self.cipher.encrypt(phone, context=PHONE_CIPHER),
            self.cipher.blind_index(phone, context=PHONE_INDEX),
        )

    # --- employment history and intent -----------------------------------------------------

    def _employment(
        self, chunk: Chunk, labour: list[tuple[uuid.UUID, str, bool]], zero: bool
    ) -> None:
        """Patterns per labourer; unless this is a zero-employment household, someone works
        in the last month (the county clears the others: 零就业家庭动态清零)."""
        rng = self.rng
        plans = []
        for member_id, labour_type, in_school in labour:
            if in_school:
                pattern = NEVER
            elif zero:
                pattern = RETURNEE if self.random() < 0.5 else NEVER
            elif labour_type == WEAK:
                pattern = WEAK_PATTERNS.pick(rng)
            else:
                pattern = ORDINARY_PATTERNS.pick(rng)
            plans.append([member_id, pattern, in_school, self._mask(pattern)])
        if not zero and not any(plan[3] & self._last_bit for plan in plans):
            for plan in plans:
                if not plan[2]:  # students stay in school
                    plan[1] = STABLE_OUT if self.random() < 0.6 else COUNTY
                    plan[3] = self._mask(plan[1])
                    break
        for member_id, pattern, in_school, mask in plans:
            chunk.employment_plans.append(self._plan(member_id, pattern, mask))
            self._intent(chunk, member_id, pattern, in_school)

    def _mask(self, pattern: int) -> int:
        """Which months of the window were worked: bit i is period i, oldest first."""
        window = len(self._months)
        if pattern == NEVER:
            return 0
        if pattern == RETURNEE:
            # Came home for the last one to three months (返乡回流).
            home = min(self._between(1, 3), window)
            return (1 << (window - home)) - 1
        if pattern != UNSTABLE:
            return (1 << window) - 1
        mask, month, working = 0, 0, self.random() < 0.5
        while month < window:
            for _ in range(self._between(1, 3)):
                if working and month < window:
                    mask |= 1 << month
                month += 1
            working = not working
        if window > 1 and mask in (0, (1 << window) - 1):
            mask ^= self._last_bit  # unstable means it changed at least once
        return mask

    def _job(self, pattern: int) -> tuple[str, str, str, int]:
        """Region, channel, employer and wage step of the one job a pattern works at."""
        rng = self.rng
        if pattern in (STABLE_OUT, RETURNEE) or (pattern == UNSTABLE and self.random() < 0.5):
            region, channel, employers = OUT, Channel.migrant.value, EMPLOYERS[OUT]
            low, high = WAGES[OUT]
        elif pattern == STABLE_PROVINCE:
            region, employers = PROVINCE, EMPLOYERS[PROVINCE]
            channel = Channel.migrant.value if self.random() < 0.8 else Channel.flexible.value
            low, high = WAGES[PROVINCE]
        else:
            region = COUNTY_REGION
            channel = Channel.flexible.value if pattern == UNSTABLE else COUNTY_CHANNELS.pick(rng)
            employers = EMPLOYERS[channel]
            low, high = WAGES[channel]
        step = self._between(low // WAGE_STEP, high // WAGE_STEP)
        return region, channel, self._pick(employers), step

    def _plan(self, member_id: uuid.UUID, pattern: int, mask: int) -> tuple:
        """One labourer's history as a plan row; the database expands it to a row per month."""
        if pattern == NEVER:
            return (member_id, 0, None, None, None, 0, self._worked(0, False))
        region, channel, employer, step = self._job(pattern)
        return (
            member_id,
            mask,
            region,
            channel,
            employer,
            step,
            self._worked(mask, pattern != UNSTABLE),
        )

    def _worked(self, mask: int, steady: bool) -> list[int]:
        """Months worked this year (务工时间) at each period. Steady workers who worked the
        window's first month are taken to have worked that year's earlier months too."""
        key = (mask, steady)
        worked = self._worked_cache.get(key)
        if worked is None:
            months = self._months
            count = months[0] - 1 if steady and mask & 1 else 0
            worked = []
            for i, month in enumerate(months):
                if month == 1:
                    count = 0
                if mask >> i & 1:
                    count += 1
                worked.append(count)
            self._worked_cache[key] = worked
        return worked

    def _intent(self, chunk: Chunk, member_id: uuid.UUID, pattern: int, in_school: bool) -> None:
        rng = self.rng
        observed = self.calendar.observed_at[-1]
        if in_school:
            chunk.intents.append((member_id, NO_INTENT, STUDENT_REASON, [], [], FEED, observed))
            return
        if self.random() >= INTENT_SHARE:
            return
        intent = INTENTS[pattern].pick(rng)
        if intent == NO_INTENT:
            reason = NO_INTENT_REASONS.pick(rng)
            chunk.intents.append((member_id, intent, reason, [], [], FEED, observed))
            return
        training = [self._pick(TRAINING)] if self.random() < 0.3 else []
        wanted = []
        if self.random() < 0.6:
            wanted.append(self._pick(JOB_TYPES))
            if self.random() < 0.3:
                extra = self._pick(JOB_TYPES)
                if extra != wanted[0]:
                    wanted.append(extra)
        chunk.intents.append((member_id, intent, None, training, wanted, FEED, observed))
