"""Seed the demo county. Idempotent: running it again adds nothing already there."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from app.auth.models import AccountKind, Role, UserAccount
from app.auth.service import create_user
from app.core.config import Settings
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
