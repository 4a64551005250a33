"""A hand-built population for the alert rules: households and labourers of the demo county
(and a second county with its own thresholds), each written with the months, intents, pushes,
requests, visits and open items that make exactly the named people fire each rule.

Employment goes through the one member writer, so the history the rules read is the one the
writer keeps. The period is October 2026; the run happens on 10 November, so the cut-off is
the end of October in Asia/Shanghai (2026-11-01 00:00 +08:00).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import text

from app.core.caller import Principal
from app.core.periods import SHANGHAI, shift_period
from app.households import writer
from app.households.models import Member
from app.policy.data_checks import CheckCode
from tests.households.factories import PersonSpec, make_household

PERIOD = "2026-10"
NOW = datetime(2026, 11, 10, 9, 0, tzinfo=UTC)
CITY = "450200000000"
COUNTY = "450226000000"
VILLAGE = "450226100201"  # 大寨村, 古宜镇: the province's line applies
LINE_VILLAGE = "450226100202"  # 龙吉村: its own line
DOUJIANG_VILLAGE = "450226101201"  # 斗江村, 斗江镇: the township's 低保 × 2
DANZHOU = "450226102000"  # 丹洲镇, for the regional rules
DANZHOU_VILLAGE = "450226102201"  # 丹洲村
BANJIANG_VILLAGE = "450226102202"  # 板江村
HONGLU_VILLAGE = "450226102203"  # 红路村: no one lives there
OTHER_COUNTY = "450227000000"  # its own thresholds
OTHER_TOWNSHIP = "450227100000"
OTHER_VILLAGE = "450227100201"

SYSTEM = Principal.system("alerts.test").actor


def sh(text_: str) -> datetime:
    """A wall-clock time in Asia/Shanghai, `YYYY-MM-DD HH:MM`."""
    return datetime.strptime(text_, "%Y-%m-%d %H:%M").replace(tzinfo=SHANGHAI)


def months(first: str, last: str) -> list[str]:
    out, period = [], first
    while period <= last:
        out.append(period)
        period = shift_period(period, 1)
    return out


@dataclass(frozen=True)
class Month:
    status: str = "务工"
    region: str | None = "县内"
    channel: str | None = "就业帮扶车间"
    employer: str | None = "甲厂"
    income: Decimal | None = Decimal("2000")


IDLE = Month("未务工", None, None, None, None)


def worked(first: str = "2025-11", last: str = "2026-10", **fields: Any) -> dict[str, Month]:
    return dict.fromkeys(months(first, last), Month(**fields))


def idle(first: str, last: str) -> dict[str, Month]:
    return dict.fromkeys(months(first, last), IDLE)


@dataclass
class Person:
    key: str
    months: dict[str, Month] = field(default_factory=dict)
    labour_type: str = "普通劳动力"
    intent: str | None = None


@dataclass
class Home:
    key: str
    village: str
    people: list[Person]
    category: str = "脱贫户"
    income_per_capita: Decimal | None = Decimal("20000")
    risk_eliminated: bool = False


def _steady(key: str, **fields: Any) -> Person:
    return Person(key, worked(**fields))


# Every household of the village; `key`s name who should fire what (see test_rules).
HOMES: list[Home] = [
    Home(
        "h_members",
        VILLAGE,
        [
            # 务工 in September, a record of 未务工 in October.
            Person("lost", {**worked(last="2026-09"), "2026-10": IDLE}),
            # 务工 in September, nothing recorded for October: unknown.
            Person("unknown", worked(last="2026-09")),
            # 省外 in September, at home in October.
            Person(
                "returned",
                {**worked(last="2026-09", region="省外", channel="外出务工"), "2026-10": IDLE},
            ),
            # Six months away in a row ending with October.
            Person(
                "away6",
                {
                    **idle("2025-11", "2026-04"),
                    **worked("2026-05", "2026-10", region="省外", channel="外出务工"),
                },
            ),
            # Five months away: not yet eligible, and too few months worked in 12.
            Person(
                "away5",
                {
                    **idle("2025-11", "2026-05"),
                    **worked("2026-06", "2026-10", region="省内县外", channel="外出务工"),
                },
            ),
            # Three months of 灵活就业 after nine in a workshop.
            Person(
                "flexible3",
                {
                    **worked("2025-11", "2026-07"),
                    **worked("2026-08", "2026-10", channel="灵活就业", employer=None),
                },
            ),
            # Three changes of employer in the 12 months (the third in October).
            Person(
                "changer3",
                {
                    **worked("2025-11", "2026-01", employer="甲厂"),
                    **worked("2026-02", "2026-05", employer="乙厂"),
                    **worked("2026-06", "2026-09", employer="丙厂"),
                    **worked("2026-10", "2026-10", employer="丁厂"),
                },
            ),
            # Two changes: November against October 2025 (before the 12 months, still
            # compared), and August; the idle April between two 甲厂 spells is none.
            Person(
                "changer2",
                {
                    **worked("2025-11", "2026-03", employer="甲厂"),
                    "2026-04": IDLE,
                    **worked("2026-05", "2026-07", employer="甲厂"),
                    **worked("2026-08", "2026-10", employer="乙厂"),
                    "2025-10": Month(employer="丙厂"),
                },
            ),
        ],
    ),
    # Intent to work, not working: pushes decide.
    Home(
        "h_intent",
        VILLAGE,
        [
            Person("intent_none_pushed", {"2026-10": IDLE}, intent="外出"),
            Person("intent_full", {"2026-10": IDLE}, intent="外出"),  # 3 rounds of 5
            Person("intent_short", {"2026-10": IDLE}, intent="就近"),  # 5, 5, 4
            Person("intent_late", {"2026-10": IDLE}, intent="外出"),  # third round in Nov
            Person("intent_unrecorded", {}, intent="就近"),  # no record this month
            Person("intent_working", worked(), intent="外出"),
            Person("intent_no", {"2026-10": IDLE}, intent="无意愿"),
        ],
        category="一般农户",
    ),
    # Zero-employment households.
    Home(
        "h_zero",
        VILLAGE,
        [
            Person("zero_a", {"2026-10": IDLE}),
            Person("zero_b", {}),
            Person("zero_lost_labour", {"2026-10": IDLE}, labour_type="丧失劳动力"),
        ],
        category="监测户",
    ),
    Home("h_farming", VILLAGE, [Person("farmer", worked(channel="务农", employer=None))]),
    Home("h_ordinary_idle", VILLAGE, [Person("ordinary_idle", {"2026-10": IDLE})], "一般农户"),
    Home(
        "h_no_labour",
        VILLAGE,
        [Person("no_labour", {"2026-10": IDLE}, labour_type="丧失劳动力")],
    ),
    # Wage income, January to October: 2025 at 3,000 a month, 2026 at 2,000 (−33 %).
    Home(
        "h_income_drop",
        VILLAGE,
        [
            Person(
                "earner",
                {
                    **worked("2025-01", "2025-10", income=Decimal("3000")),
                    **worked("2025-11", "2026-10", income=Decimal("2000")),
                },
            ),
        ],
    ),
    # 2025 at 3,000, 2026 at 2,400 a month: exactly −20 %, not more.
    Home(
        "h_income_exact",
        VILLAGE,
        [
            Person(
                "earner_exact",
                {
                    **worked("2025-01", "2025-10", income=Decimal("3000")),
                    **worked("2025-11", "2026-10", income=Decimal("2400")),
                },
            ),
        ],
    ),
    # Against the monitoring line.
    Home("h_below", VILLAGE, [], income_per_capita=Decimal("6999.99")),
    Home("h_at_line", VILLAGE, [], income_per_capita=Decimal("7000.00")),
    Home("h_no_income", VILLAGE, [], income_per_capita=None),
    Home("h_village_line", LINE_VILLAGE, [], income_per_capita=Decimal("6500")),
    Home("h_township_line", DOUJIANG_VILLAGE, [], income_per_capita=Decimal("7500")),
    # Visits (监测户): see `VISITS`.
    Home("h_visit_recent", VILLAGE, [], "监测户"),
    Home("h_visit_month_end", VILLAGE, [], "监测户"),
    Home("h_visit_exact", VILLAGE, [], "监测户"),
    Home("h_visit_old", VILLAGE, [], "监测户"),
    Home("h_visit_after_cutoff", VILLAGE, [], "监测户"),
    Home("h_never_visited", VILLAGE, [], "监测户"),
    Home("h_visit_cleared", VILLAGE, [], "监测户", risk_eliminated=True),
    # Open items: see `build`.
    Home("h_conflict_old", VILLAGE, [Person("conflicted")], "一般农户"),
    Home("h_conflict_exact", VILLAGE, [Person("conflicted_exact")], "一般农户"),
    Home("h_finding_old", VILLAGE, [Person("found")], "一般农户"),
    # Training requests: see `build`.
    Home(
        "h_training",
        VILLAGE,
        [
            Person("trainee_overdue", worked()),
            Person("trainee_exact", worked()),
            Person("trainee_enrolled", worked()),
            Person("trainee_enrolled_before", worked()),
            Person("trainee_other_category", worked()),
            Person("trainee_resolved", worked()),
        ],
        "一般农户",
    ),
    # 丹洲镇: 丹洲村 10 working in September, 8 in October (−20 %); 板江村 10 → 9 (−10 %).
    Home(
        "h_danzhou",
        DANZHOU_VILLAGE,
        [_steady(f"dz{i}", first="2025-11") for i in range(8)]
        + [Person(f"dz_lost{i}", {**worked(last="2026-09"), "2026-10": IDLE}) for i in range(2)],
        "一般农户",
    ),
    Home(
        "h_banjiang",
        BANJIANG_VILLAGE,
        [_steady(f"bj{i}") for i in range(9)]
        + [Person("bj_lost", {**worked(last="2026-09"), "2026-10": IDLE})],
        "一般农户",
    ),
    # The second county: 务农 does not count, 3 months suffice, employment_lost is off.
    Home("h_other_farming", OTHER_VILLAGE, [Person("other_farmer", worked(channel="务农"))]),
    Home(
        "h_other",
        OTHER_VILLAGE,
        [
            Person("other_lost", {**worked(last="2026-09"), "2026-10": IDLE}),
            Person(
                "other_four",
                {**idle("2025-11", "2026-06"), **worked("2026-07", "2026-10")},
            ),
        ],
        "一般农户",
    ),
]

# Last visit per household (Shanghai wall clock); the cut-off is 2026-11-01 00:00.
VISITS = {
    "h_visit_recent": ["2026-10-20 10:00"],
    "h_visit_month_end": ["2026-09-01 10:00", "2026-10-31 23:30"],  # the last evening counts
    "h_visit_exact": ["2026-10-02 00:00"],  # exactly 30 days before the cut-off
    "h_visit_old": ["2026-10-01 23:59"],  # 30 days and a minute
    "h_visit_after_cutoff": ["2026-09-01 10:00", "2026-11-01 00:30"],  # November's: too late
    "h_visit_cleared": ["2026-01-01 10:00"],
}


@dataclass
class Village:
    homes: dict[str, uuid.UUID]
    people: dict[str, uuid.UUID]
    requests: dict[str, uuid.UUID]

    def subjects(self, *keys: str) -> set[str]:
        return {str(self.homes[k]) if k in self.homes else str(self.people[k]) for k in keys}


async def _regions(db: Any) -> None:
    await db.execute(
        text(
            "INSERT INTO region (code, name, level, parent_code) VALUES"
            " (:county, '另一县', 'county', :city),"
            " (:township, '另一镇', 'township', :county),"
            " (:village, '另一村', 'village', :township)"
        ),
        {
            "city": CITY,
            "county": OTHER_COUNTY,
            "township": OTHER_TOWNSHIP,
            "village": OTHER_VILLAGE,
        },
    )


async def _settings(db: Any) -> None:
    rows = [
        (OTHER_COUNTY, "zero_employment_household", True, '{"farming_counts": false}'),
        (OTHER_COUNTY, "unstable_employment", True, '{"min_months_employed": 3}'),
        (OTHER_COUNTY, "employment_lost", False, "{}"),
    ]
    for county, rule, enabled, params in rows:
        await db.execute(
            text(
                "INSERT INTO alert_rule_setting (county_code, rule, enabled, params)"
                " VALUES (:county, :rule, :enabled, CAST(:params AS jsonb))"
            ),
            {"county": county, "rule": rule, "enabled": enabled, "params": params},
        )
    lines = [
        ("450000000000", 2026, 7000, None, None),  # the province
        ("450000000000", 2025, 99999, None, None),  # another year: not this period's
        (LINE_VILLAGE, 2026, 6000, None, None),  # a village's own, below the province's
        ("450226101000", 2026, None, 4000, 2),  # 斗江镇: twice 低保
    ]
    for region, year, amount, dibao, multiple in lines:
        await db.execute(
            text(
                "INSERT INTO monitoring_line (region_code, year, amount, dibao, dibao_multiple)"
                " VALUES (:region, :year, :amount, :dibao, :multiple)"
            ),
            {
                "region": region,
                "year": year,
                "amount": amount,
                "dibao": dibao,
                "multiple": multiple,
            },
        )
    # October's pace is target × 10 ÷ 12.
    targets = [(DANZHOU_VILLAGE, 9), (BANJIANG_VILLAGE, 12), (HONGLU_VILLAGE, 12), (DANZHOU, 24)]
    for region, target in targets:
        await db.execute(
            text(
                "INSERT INTO employment_target (region_code, year, target)"
                " VALUES (:region, 2026, :target)"
            ),
            {"region": region, "target": target},
        )


async def build(app: Any, db: Any, settings: Any) -> Village:
    await _regions(db)
    await _settings(db)
    await db.commit()
    homes: dict[str, uuid.UUID] = {}
    people: dict[str, uuid.UUID] = {}
    rows: list[writer.EmploymentWrite] = []
    intents: list[writer.IntentWrite] = []
    for home in HOMES:
        specs = [PersonSpec(p.key, labour_type=p.labour_type) for p in home.people]
        household, members = await make_household(
            db,
            settings,
            home.village,
            specs or [PersonSpec("无劳力", labour_type="无劳动力")],
            category=home.category,
        )
        homes[home.key] = household.id
        for person, member in zip(home.people, members, strict=False):
            people[person.key] = member.id
            for period, m in person.months.items():
                rows.append(
                    writer.EmploymentWrite(
                        actor=SYSTEM, member_id=member.id, period=period, status=m.status,
                        work_region=m.region, channel=m.channel, employer=m.employer,
                        months=1 if m.status == "务工" else 0, income=m.income, source="feed",
                        observed_at=NOW,
                    )
                )  # fmt: skip
            if person.intent:
                intents.append(
                    writer.IntentWrite(
                        actor=SYSTEM, member_id=member.id, intent=person.intent,
                        reason="照顾家人" if person.intent == "无意愿" else None,
                        training_needs=(), wanted_job_types=(), source="feed", observed_at=NOW,
                    )
                )  # fmt: skip
        await db.execute(
            text(
                "UPDATE household SET income_per_capita = :income, risk_eliminated = :cleared,"
                " created_at = :created WHERE id = :id"
            ),
            {
                "income": home.income_per_capita,
                "cleared": home.risk_eliminated,
                "created": sh("2026-01-01 08:00"),
                "id": household.id,
            },
        )
    await db.commit()
    async with app.state.db.driver_connection() as connection, connection.transaction():
        await writer.write_employment(connection, rows)
        await writer.write_intents(connection, intents)

    for key, times in VISITS.items():
        for at in times:
            await _visit(db, homes[key], sh(at))
    await _pushes(db, people)
    requests = await _requests(db, people)
    await _open_items(db, people, homes)
    await db.commit()
    return Village(homes, people, requests)


async def _coordinator(db: Any) -> uuid.UUID:
    user_id = uuid.uuid5(uuid.NAMESPACE_OID, "alerts-coordinator")
    await db.execute(
        text(
            "INSERT INTO user_account (id, kind, display_name, role) VALUES"
            " (:id, 'person', '协理员', 'coordinator') ON CONFLICT DO NOTHING"
        ),
        {"id": user_id},
    )
    return user_id


async def _visit(db: Any, household_id: uuid.UUID, at: datetime) -> None:
    await db.execute(
        text(
            "INSERT INTO visit (id, household_id, coordinator_id, village_code, visited_at,"
            " method, request_hash)"
            " SELECT :id, h.id, :coordinator, h.village_code, :at, 'in_person', 'x'"
            " FROM household AS h WHERE h.id = :household"
        ),
        {"id": uuid.uuid4(), "coordinator": await _coordinator(db), "at": at,
         "household": household_id},
    )  # fmt: skip


async def _pushes(db: Any, people: dict[str, uuid.UUID]) -> None:
    # A job is pushed to a labourer once: fifteen jobs.
    jobs = [uuid.uuid4() for _ in range(15)]
    for job_id in jobs:
        await db.execute(
            text(
                "INSERT INTO job (id, title, employer, region_code, location_type, wage_min,"
                " wage_max, headcount, source, valid_until, status)"
                " VALUES (:id, '普工', '甲厂', :region, '县内', 3000, 4000, 10, '就业驿站',"
                " '2027-01-01', 'open')"
            ),
            {"id": job_id, "region": COUNTY},
        )
    rounds = {
        "intent_full": [(1, 5, "2026-09-01 10:00"), (2, 5, "2026-09-15 10:00"),
                        (3, 5, "2026-10-31 23:00")],
        "intent_short": [(1, 5, "2026-09-01 10:00"), (2, 5, "2026-09-15 10:00"),
                         (3, 4, "2026-10-01 10:00")],
        "intent_late": [(1, 5, "2026-09-01 10:00"), (2, 5, "2026-09-15 10:00"),
                        (3, 5, "2026-11-01 08:00")],
    }  # fmt: skip
    for key, plan in rounds.items():
        free = iter(jobs)
        for round_no, count, at in plan:
            for _ in range(count):
                await db.execute(
                    text(
                        "INSERT INTO job_push (id, job_id, member_id, village_code, round,"
                        " status, pushed_at) VALUES (:id, :job, :member, :village, :round,"
                        " 'pushed', :at)"
                    ),
                    {"id": uuid.uuid4(), "job": next(free), "member": people[key],
                     "village": VILLAGE, "round": round_no, "at": sh(at)},
                )  # fmt: skip


async def _requests(db: Any, people: dict[str, uuid.UUID]) -> dict[str, uuid.UUID]:
    training_id = uuid.uuid4()
    await db.execute(
        text(
            "INSERT INTO training (id, title, type, region_code, organizer, location, capacity,"
            " starts_at, ends_at) VALUES (:id, '电工', '职业技能', :region, '县人社局', '县城',"
            " 30, :starts, :ends)"
        ),
        {"id": training_id, "region": COUNTY, "starts": sh("2026-12-01 09:00"),
         "ends": sh("2026-12-10 17:00")},
    )  # fmt: skip
    # key: (category, accepted at, enrolled at, resolved at)
    plans = {
        "trainee_overdue": ("技能培训", "2026-10-10 09:00", None, None),
        "trainee_exact": ("技能培训", "2026-10-17 00:00", None, None),  # exactly 15 days
        "trainee_enrolled": ("技能培训", "2026-10-05 09:00", "2026-10-12 09:00", None),
        "trainee_enrolled_before": ("技能培训", "2026-10-05 09:00", "2026-10-01 09:00", None),
        "trainee_other_category": ("找工作", "2026-10-01 09:00", None, None),
        "trainee_resolved": ("技能培训", "2026-10-01 09:00", None, "2026-10-20 09:00"),
    }
    ids: dict[str, uuid.UUID] = {}
    for key, (category, accepted, enrolled, resolved) in plans.items():
        request_id = ids[key] = uuid.uuid4()
        await db.execute(
            text(
                "INSERT INTO help_request (id, member_id, village_code, routed_to, category,"
                " description, contact_method, request_hash, status, created_at,"
                " accepted_at, resolved_at)"
                " VALUES (:id, :member, :village, :village, :category, '想学电工', 'phone',"
                " 'x', :status, :accepted, :accepted, :resolved)"
            ),
            {"id": request_id, "member": people[key], "village": VILLAGE,
             "category": category, "accepted": sh(accepted),
             "status": "resolved" if resolved else "accepted",
             "resolved": sh(resolved) if resolved else None},
        )  # fmt: skip
        if enrolled:
            await db.execute(
                text(
                    "INSERT INTO training_enrollment (id, training_id, member_id, status,"
                    " created_at) VALUES (:id, :training, :member, 'enrolled', :at)"
                ),
                {"id": uuid.uuid4(), "training": training_id, "member": people[key],
                 "at": sh(enrolled)},
            )  # fmt: skip
    return ids


async def _open_items(db: Any, people: dict[str, uuid.UUID], homes: dict[str, uuid.UUID]) -> None:
    member_no = {
        key: await db.scalar(
            text("SELECT member_no FROM member WHERE id = :id"), {"id": people[key]}
        )
        for key in ("conflicted", "conflicted_exact")
    }
    conflicts = [
        ("conflicted", "open", "2026-10-10 09:00"),
        ("conflicted_exact", "open", "2026-10-18 00:00"),  # exactly 14 days
        ("conflicted_exact", "resolved", "2026-09-01 09:00"),  # old, but resolved
    ]
    for index, (key, status, at) in enumerate(conflicts):
        await db.execute(
            text(
                "INSERT INTO feed_conflict (id, kind, status, member_no, member_id,"
                " village_code, period, theirs, resolution, created_at)"
                " VALUES (:id, 'employment', :status, :no, :member, :village, :period,"
                " '{}'::jsonb, :resolution, :at)"
            ),
            {"id": uuid.uuid4(), "status": status, "no": member_no[key],
             "member": people[key], "village": VILLAGE, "period": f"2026-0{index + 1}",
             "resolution": "ours" if status == "resolved" else None, "at": sh(at)},
        )  # fmt: skip
    await db.execute(
        text(
            "INSERT INTO data_check_finding (id, rule, household_id, member_id, village_code,"
            " first_found_at, last_found_at)"
            " SELECT :id, r.rule, :household, NULL, :village, :at, :at"
            " FROM (SELECT :rule AS rule) AS r"
        ),
        {"id": uuid.uuid4(), "household": homes["h_finding_old"], "village": VILLAGE,
         "at": sh("2026-10-01 09:00"), "rule": CheckCode.working_without_workplace.value},
    )  # fmt: skip


async def member_of(db: Any, member_id: uuid.UUID) -> Member:
    return await db.get(Member, member_id)
