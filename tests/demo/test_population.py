"""The synthetic population: deterministic, valid ID numbers, plausible mix, safe to re-run."""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import date, datetime, timedelta
from itertools import pairwise
from typing import Any

import pytest
from sqlalchemy import text

from app.cli import build_parser, seed_demo
from app.core.crypto import ID_NUMBER_INDEX, PHONE_INDEX, PiiCipher
from app.core.periods import SHANGHAI
from app.demo.population import PopulationExists, demo_villages, seed_population
from app.households.id_number import birth_date, normalise_id_number
from app.households.views import ID_NUMBER_CIPHER, PHONE_CIPHER
from app.policy.values import LABOUR_FORCE

END = "2026-10"
REFERENCE = date(2026, 10, 1)  # ages are counted at the first day of the last period
PERIODS = [f"2025-{m:02d}" for m in (11, 12)] + [f"2026-{m:02d}" for m in range(1, 11)]


async def _seed(app: Any, settings: Any, **options: Any):
    options = {"households": 600, "end_period": END, **options}
    async with app.state.db.engine.begin() as connection:
        return await seed_population(connection, settings, **options)


async def _rows(app: Any, sql: str, **params: Any) -> list[Any]:
    async with app.state.db.engine.connect() as connection:
        return list((await connection.execute(text(sql), params)).all())


async def _fingerprint(app: Any) -> tuple[list[str], list[bytes]]:
    households = await _rows(app, "SELECT household_no FROM household ORDER BY household_no")
    indexes = await _rows(app, "SELECT id_number_index FROM member ORDER BY member_no")
    return [h for (h,) in households], [bytes(i) for (i,) in indexes]


async def _clear(app: Any) -> None:
    async with app.state.db.engine.begin() as connection:
        await connection.execute(text("DELETE FROM household"))  # cascades to members


def _age(id_number: str) -> int:
    born = birth_date(id_number)
    return REFERENCE.year - born.year - ((REFERENCE.month, REFERENCE.day) < (born.month, born.day))


@pytest.fixture
async def demo(app, settings):
    """The default demo population, ending October 2026."""
    return await _seed(app, settings)


async def test_counts_near_the_targets(app, demo):
    assert demo.households == 600
    assert 2_250 <= demo.members <= 2_700  # about four people a household
    counts = dict(
        await _rows(
            app,
            "SELECT 'household', count(*) FROM household UNION ALL"
            " SELECT 'member', count(*) FROM member UNION ALL"
            " SELECT 'employment', count(*) FROM member_employment UNION ALL"
            " SELECT 'intent', count(*) FROM member_intent",
        )
    )
    assert counts == {
        "household": demo.households,
        "member": demo.members,
        "employment": demo.employment,
        "intent": demo.intents,
    }
    # Every labourer has exactly twelve months, ending at the end period; nobody else has any.
    histories = await _rows(
        app,
        "SELECT m.labour_type, count(e.period), min(e.period), max(e.period)"
        " FROM member m LEFT JOIN member_employment e ON e.member_id = m.id"
        " GROUP BY m.id, m.labour_type",
    )
    for labour_type, months, first, last in histories:
        if labour_type in LABOUR_FORCE:
            assert (months, first, last) == (12, PERIODS[0], END)
        else:
            assert months == 0
    sizes = Counter(
        n for (n,) in await _rows(app, "SELECT count(*) FROM member GROUP BY household_id")
    )
    assert set(sizes) <= {3, 4, 5, 6}


async def test_households_are_spread_over_the_villages_with_unique_numbers(app, demo):
    rows = await _rows(app, "SELECT household_no, village_code FROM household")
    villages = Counter(village for _, village in rows)
    assert set(villages) == set(demo_villages()) and len(villages) == 10
    assert min(villages.values()) >= 25
    assert len({no for no, _ in rows}) == len(rows)
    for household_no, village in rows:
        assert household_no.startswith(village) and len(household_no) == 16


async def test_same_seed_same_population_other_seed_another(app, settings):
    await _seed(app, settings, households=60, seed=7)
    first = await _fingerprint(app)
    await _clear(app)
    await _seed(app, settings, households=60, seed=7)
    assert await _fingerprint(app) == first
    await _clear(app)
    await _seed(app, settings, households=60, seed=8)
    other = await _fingerprint(app)
    assert other[0] != first[0]
    assert other[1] != first[1]


async def test_batch_foreign_key_check_leaves_the_replication_role_as_it_was(app, settings):
    async with app.state.db.engine.begin() as connection:
        await seed_population(connection, settings, households=10, end_period=END)
        role = await connection.scalar(text("SELECT current_setting('session_replication_role')"))
        assert role == "origin"
        # The batch check is real: every employment row has its member.
        orphans = await connection.scalar(
            text(
                "SELECT count(*) FROM member_employment e"
                " WHERE NOT EXISTS (SELECT 1 FROM member m WHERE m.id = e.member_id)"
            )
        )
        assert orphans == 0


async def test_row_by_row_foreign_key_checks_give_the_same_rows(app, settings):
    fast = await _seed(app, settings, households=40, seed=3)
    fast_rows = await _rows(
        app,
        "SELECT m.member_no, e.period, e.status, e.months, e.income FROM member_employment e"
        " JOIN member m ON m.id = e.member_id ORDER BY 1, 2",
    )
    await _clear(app)
    slow = await _seed(app, settings, households=40, seed=3, batch_fk_check=False)
    assert slow == fast
    assert (
        await _rows(
            app,
            "SELECT m.member_no, e.period, e.status, e.months, e.income FROM member_employment e"
            " JOIN member m ON m.id = e.member_id ORDER BY 1, 2",
        )
        == fast_rows
    )


async def test_id_numbers_are_valid_unique_and_fit_the_family(app, settings, demo):
    cipher = PiiCipher.from_settings(settings)
    rows = await _rows(
        app,
        "SELECT household_id, relation, id_number_cipher, id_number_index, phone_cipher,"
        " phone_index FROM member",
    )
    numbers = []
    families: dict[Any, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    for household_id, relation, sealed, index, phone_sealed, phone_index in rows:
        id_number = cipher.decrypt(bytes(sealed), context=ID_NUMBER_CIPHER)
        assert normalise_id_number(id_number) == id_number
        assert id_number.startswith("450226")
        assert bytes(index) == cipher.blind_index(id_number, context=ID_NUMBER_INDEX)
        # Nothing readable at rest: neither the number nor its birth date.
        assert id_number.encode() not in bytes(sealed)
        assert id_number[6:14].encode() not in bytes(sealed)
        if phone_sealed is not None:
            phone = cipher.decrypt(bytes(phone_sealed), context=PHONE_CIPHER)
            assert len(phone) == 11 and phone.startswith("1") and phone.isdigit()
            assert phone.encode() not in bytes(phone_sealed)
            assert bytes(phone_index) == cipher.blind_index(phone, context=PHONE_INDEX)
        numbers.append(id_number)
        families[household_id][relation].append(id_number)
    assert len(set(numbers)) == len(numbers) == demo.members

    male = {"之子": True, "之父": True, "之孙子": True, "之女": False, "之母": False}
    for family in families.values():
        assert len(family["户主"]) == 1
        head_age = _age(family["户主"][0])
        for relation, is_male in male.items():
            for id_number in family.get(relation, []):
                assert (int(id_number[16]) % 2 == 1) is is_male  # odd 17th digit: a man
        for id_number in family.get("之父", []) + family.get("之母", []):
            assert _age(id_number) >= head_age + 15
        for id_number in family.get("之子", []) + family.get("之女", []):
            assert _age(id_number) <= head_age - 15
        assert 18 <= head_age <= 80


async def test_labour_types_follow_age(app, settings, demo):
    cipher = PiiCipher.from_settings(settings)
    rows = await _rows(
        app, "SELECT id_number_cipher, labour_type, in_school, disability FROM member"
    )
    mix = Counter(labour_type for _, labour_type, _, _ in rows)
    total = sum(mix.values())
    labour_force = sum(n for kind, n in mix.items() if kind in LABOUR_FORCE)
    assert 0.5 <= labour_force / total <= 0.7
    assert mix["普通劳动力"] > mix["技能劳动力"] > 0 and mix["弱劳动力或半劳动力"] > 0
    assert mix["丧失劳动力"] > 0 and mix["无劳动力"] > 0
    disabled = sum(1 for *_, disability in rows if disability)
    assert 0.02 * total <= disabled <= 0.07 * total
    for sealed, labour_type, in_school, _ in rows:
        age = _age(cipher.decrypt(bytes(sealed), context=ID_NUMBER_CIPHER))
        if age < 16:
            assert labour_type == "无劳动力"
            assert in_school == (age >= 6)
        if age >= 65:
            assert labour_type in {"无劳动力", "丧失劳动力"}
        if in_school:
            assert age <= 22


async def test_categories_and_income_are_plausible(app, demo):
    rows = await _rows(
        app,
        "SELECT category, monitor_type, risk_types, relocated, income_per_capita FROM household",
    )
    categories = Counter(category for category, *_ in rows)
    assert 0.45 <= categories["脱贫户"] / 600 <= 0.65
    assert 0.08 <= categories["监测户"] / 600 <= 0.22
    assert 0.2 <= categories["一般农户"] / 600 <= 0.4
    for category, monitor_type, risks, _, _ in rows:
        assert (monitor_type is not None) == (category == "监测户")
        assert bool(risks) == (category == "监测户")
    relocated = sum(1 for *_, moved, _ in rows if moved)
    assert 0.04 * 600 <= relocated <= 0.13 * 600
    lifted = [float(income) for category, *_, income in rows if category == "脱贫户"]
    assert 12_500 <= sum(lifted) / len(lifted) <= 16_500  # around 14,342 yuan


async def test_histories_have_returnees_unstable_workers_and_consistent_months(app, demo):
    rows = await _rows(
        app,
        "SELECT member_id, period, status, work_region, channel, months, income, source,"
        " observed_at FROM member_employment ORDER BY member_id, period",
    )
    histories: dict[Any, list[Any]] = defaultdict(list)
    for row in rows:
        histories[row.member_id].append(row)
        assert row.source == "feed"
        following = date(int(row.period[:4]), int(row.period[5:7]), 28) + timedelta(days=4)
        month_end = datetime(following.year, following.month, 1, tzinfo=SHANGHAI)
        assert row.observed_at == month_end - timedelta(seconds=1)
        if row.status == "务工":
            assert row.work_region and row.channel and row.income > 0
        else:
            assert row.work_region is None and row.channel is None and row.income is None
    returnees = unstable = never = steady = 0
    for history in histories.values():
        worked = [row.status == "务工" for row in history]
        previous = None
        for row, working in zip(history, worked, strict=True):
            # Months worked this year: grows by one in a worked month, restarts in January.
            if previous is not None and row.period.endswith("-01"):
                assert row.months == int(working)
            elif previous is not None:
                assert row.months == previous.months + int(working)
            assert 0 <= row.months <= 12
            previous = row
        switches = sum(a != b for a, b in pairwise(worked))
        if all(worked):
            steady += 1
        elif not any(worked):
            never += 1
        elif switches == 1 and not worked[-1] and history[0].work_region == "省外":
            returnees += 1  # 返乡回流: worked out of province, home for the last months
        elif switches >= 2:
            unstable += 1
    assert steady > never > 0 and returnees >= 20 and unstable >= 20
    in_county = Counter(
        row.channel for row in rows if row.work_region == "县内" and row.period == END
    )
    assert in_county["公益性岗位"] > 0 and in_county["就业帮扶车间"] > 0


async def test_zero_employment_households_are_a_few_lifted_ones(app, demo):
    rows = await _rows(
        app,
        "SELECT h.category, bool_or(e.status = '务工') FROM household h"
        " JOIN member m ON m.household_id = h.id"
        " JOIN member_employment e ON e.member_id = m.id AND e.period = :period"
        " GROUP BY h.id, h.category",
        period=END,
    )
    lifted = [anyone for category, anyone in rows if category == "脱贫户"]
    zero = lifted.count(False)
    assert 1 <= zero <= 0.08 * len(lifted)  # 零就业家庭: found, and few


async def test_intents_with_reasons(app, demo):
    rows = await _rows(
        app,
        "SELECT i.intent, i.reason, m.labour_type, m.in_school, i.source"
        " FROM member_intent i JOIN member m ON m.id = i.member_id",
    )
    labourers = (await _rows(app, "SELECT count(DISTINCT member_id) FROM member_employment"))[0][0]
    assert 0.75 * labourers <= len(rows) <= labourers  # most labourers were asked
    intents = Counter(intent for intent, *_ in rows)
    assert intents["外出"] > 0 and intents["就近"] > 0 and intents["无意愿"] > 0
    reasons = Counter(reason for intent, reason, *_ in rows if intent == "无意愿")
    assert all(reason and reason.strip() for reason in reasons)
    assert reasons["在校学生"] > 0 and len(reasons) >= 3
    for intent, reason, labour_type, in_school, source in rows:
        assert labour_type in LABOUR_FORCE and source == "feed"
        if in_school:
            assert (intent, reason) == ("无意愿", "在校学生")


async def test_every_village_gets_one_coordinator_post_by_the_quota(app, demo):
    rows = await _rows(
        app,
        "SELECT h.village_code, count(*) FROM member m JOIN household h ON h.id = m.household_id"
        " WHERE h.category = '脱贫户' AND m.labour_type = ANY(:labour) GROUP BY 1",
        labour=[kind.value for kind in LABOUR_FORCE],
    )
    assert len(rows) == 10
    assert all(30 <= count < 200 for _, count in rows)


async def test_populated_villages_are_refused_other_villages_are_not(app, settings):
    villages = demo_villages()
    await _seed(app, settings, households=30, villages=villages[:5])
    with pytest.raises(PopulationExists):
        await _seed(app, settings, households=30, villages=villages[4:])
    # The same seed into other villages: new ids, and ID numbers never reused.
    await _seed(app, settings, households=30, villages=villages[5:])
    (total, distinct), *_ = await _rows(
        app, "SELECT count(*), count(DISTINCT id_number_index) FROM member"
    )
    assert total == distinct
    assert (await _rows(app, "SELECT count(*) FROM household"))[0][0] == 60


@pytest.mark.parametrize(
    "options",
    [{"households": -1}, {"months": 0}, {"months": 25}, {"end_period": "2026-13"}],
)
async def test_bad_options_are_refused(app, settings, options):
    with pytest.raises(ValueError):
        await _seed(app, settings, **options)


async def test_seed_demo_twice_adds_nothing_the_second_time(app, settings):
    first = await seed_demo(settings, households=50)
    assert first.population is not None and first.population.households == 50
    assert {account.username for account in first.accounts} >= {"dazhai", "honglu"}
    before = await _rows(
        app,
        "SELECT (SELECT count(*) FROM household), (SELECT count(*) FROM member),"
        " (SELECT count(*) FROM member_employment), (SELECT count(*) FROM user_account)",
    )
    second = await seed_demo(settings, households=50)
    assert second.population is None and second.accounts == []
    after = await _rows(
        app,
        "SELECT (SELECT count(*) FROM household), (SELECT count(*) FROM member),"
        " (SELECT count(*) FROM member_employment), (SELECT count(*) FROM user_account)",
    )
    assert after == before


def test_seed_demo_command_options():
    args = build_parser().parse_args(["seed-demo", "--households", "250000", "--seed", "7"])
    assert (args.households, args.seed) == (250_000, 7)
    defaults = build_parser().parse_args(["seed-demo"])
    assert (defaults.households, defaults.seed) == (None, None)  # seed_demo's defaults
