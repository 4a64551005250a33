"""Seed the demo county: regions, accounts, a synthetic population, jobs and trainings.

Idempotent: running it again adds nothing already there. The population is seeded only into an
empty registry, so a database that has real (or earlier demo) households is left alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from app.alerts.settings_models import EmploymentTarget, MonitoringLine
from app.auth.models import AccountKind, Role, UserAccount
from app.auth.service import create_user
from app.core.config import Settings
from app.core.periods import today
from app.demo.population import (
    DEFAULT_HOUSEHOLDS,
    DEFAULT_SEED,
    PopulationReport,
    seed_population,
)
from app.regions.importer import DEMO_COUNTY_CSV, ImportReport, import_regions

DEMO_COUNTY = "450226000000"


@dataclass(frozen=True)
class DemoAccount:
    username: str
    password: str
    role: Role
    regions: tuple[str, ...]
    display_name: str
    phone: str | None = None
    kind: AccountKind = AccountKind.person


DEMO_ACCOUNTS = (
    DemoAccount("admin", "wengang-admin", Role.admin, (), "系统管理员"),
    DemoAccount("county", "wengang-county", Role.manager, (DEMO_COUNTY,), "三江县乡村振兴局"),
    DemoAccount("guyi", "wengang-guyi", Role.manager, ("450226100000",), "古宜镇分管领导"),
    DemoAccount(
        "dazhai",
        "wengang-dazhai",
        Role.coordinator,
        ("450226100201", "450226100202"),
        "大寨村协管员",
        phone="13800000001",
    ),
    DemoAccount(
        "doujiang",
        "wengang-doujiang",
        Role.coordinator,
        ("450226101201",),
        "斗江村协管员",
        phone="13800000002",
    ),
    # A coordinator for each other village: with about 60 households, each has 30 to 200
    # labourers in 脱贫 households, which the default post quota gives one post.
    *(
        DemoAccount(
            username, f"wengang-{username}", Role.coordinator, (code,), f"{village}协管员", phone
        )
        for username, code, village, phone in (
            ("silian", "450226100203", "泗联村", "13800000003"),
            ("maping", "450226100204", "马坪村", "13800000004"),
            ("shayi", "450226101202", "沙宜村", "13800000005"),
            ("fuping", "450226101203", "扶平村", "13800000006"),
            ("danzhou", "450226102201", "丹洲村", "13800000007"),
            ("banjiang", "450226102202", "板江村", "13800000008"),
            ("honglu", "450226102203", "红路村", "13800000009"),
        )
    ),
    # A county BI tool: client-credentials grant with client_id / client_secret.
    DemoAccount(
        "county-bi",
        "wengang-county-bi-secret",
        Role.manager,
        (DEMO_COUNTY,),
        "县级数据看板",
        kind=AccountKind.client,
    ),
)


@dataclass
class DemoSeeded:
    accounts: list[DemoAccount]  # created by this run
    population: PopulationReport | None  # None: the registry already had households
    jobs: int = 0  # demo job openings added by this run
    trainings: int = 0  # demo trainings added by this run
    alert_settings: int = 0  # monitoring lines and employment targets added by this run


async def seed_regions(connection: AsyncConnection) -> ImportReport:
    return await import_regions(connection, DEMO_COUNTY_CSV)


async def seed_accounts(session: AsyncSession, settings: Settings) -> list[DemoAccount]:
    existing = set(
        (
            await session.scalars(
                select(UserAccount.username).where(
                    UserAccount.username.in_([a.username for a in DEMO_ACCOUNTS])
                )
            )
        ).all()
    )
    created = []
    for account in DEMO_ACCOUNTS:
        if account.username in existing:
            continue
        await create_user(
            session,
            settings,
            role=account.role,
            kind=account.kind,
            username=account.username,
            password=account.password,
            region_codes=list(account.regions),
            display_name=account.display_name,
            phone=account.phone,
        )
        created.append(account)
    return created


async def seed_demo_population(
    connection: AsyncConnection,
    settings: Settings,
    *,
    households: int = DEFAULT_HOUSEHOLDS,
    seed: int = DEFAULT_SEED,
) -> PopulationReport | None:
    """The demo villages' population, or None when the registry already has households."""
    # Two `wengang dev` starting at once: the second waits, then finds the households.
    await connection.execute(text("SELECT pg_advisory_xact_lock(hashtext('wengang.seed_demo'))"))
    if await connection.scalar(text("SELECT EXISTS (SELECT 1 FROM household)")):
        return None
    return await seed_population(connection, settings, households=households, seed=seed)


DEMO_PROVINCE = "450000000000"
# Labourers working the demo townships aim at this year (古宜镇, 斗江镇, 丹洲镇).
DEMO_TOWNSHIP_TARGETS = {"450226100000": 320, "450226101000": 300, "450226102000": 280}


async def seed_alert_settings(connection: AsyncConnection) -> int:
    """Monitoring lines for this year and last (Guangxi's a fixed amount, the county's twice
    its 低保, which takes precedence) and this year's township targets: each only where that
    region and year has none, so edits made since are kept. Answers the rows added."""
    year = today().year
    lines = [
        {
            "region_code": DEMO_PROVINCE,
            "year": y,
            "amount": Decimal("8700"),
            "note": "广西壮族自治区防返贫监测收入标准（演示）",
        }
        for y in (year - 1, year)
    ] + [
        {
            "region_code": DEMO_COUNTY,
            "year": y,
            "dibao": Decimal("4800"),
            "dibao_multiple": Decimal("2"),
            "note": "三江县：农村低保标准的2倍（演示）",
        }
        for y in (year - 1, year)
    ]
    added = await connection.execute(
        insert(MonitoringLine)
        .values([{"amount": None, "dibao": None, "dibao_multiple": None, **line} for line in lines])
        .on_conflict_do_nothing()
        .returning(MonitoringLine.region_code)
    )
    count = len(added.all())
    added = await connection.execute(
        insert(EmploymentTarget)
        .values(
            [
                {"region_code": code, "year": year, "target": target}
                for code, target in DEMO_TOWNSHIP_TARGETS.items()
            ]
        )
        .on_conflict_do_nothing()
        .returning(EmploymentTarget.region_code)
    )
    return count + len(added.all())
