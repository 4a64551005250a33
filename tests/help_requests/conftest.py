"""Arranging villages, their staff and a villager bound to a member for help-request tests."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

import pytest
from sqlalchemy import update

from app.auth.models import Role, UserAccount
from app.help_requests import notices
from tests.households.factories import PersonSpec, make_household

VILLAGE = "450226100201"  # 大寨村, 古宜镇
NEXT_VILLAGE = "450226100202"  # 龙吉村, the same township
TOWNSHIP = "450226100000"
COUNTY = "450226000000"
OTHER_TOWNSHIP = "450226101000"


def filing(**overrides: Any) -> dict[str, Any]:
    body = {
        "id": str(uuid.uuid4()),
        "category": "找工作",
        "description": "想在县里找一份工作，能照顾家里老人",
        "contact": {"method": "phone", "note": "下午三点后"},
    }
    body.update(overrides)
    return body


@dataclass
class Notices:
    """What the outbox was asked to send, in order: (event, recipients)."""

    sent: list[tuple[str, list[uuid.UUID]]] = field(default_factory=list)

    def events(self, name: str) -> list[list[uuid.UUID]]:
        return [recipients for event, recipients in self.sent if event == name]


@pytest.fixture
def outbox(monkeypatch) -> Notices:
    recorded = Notices()

    async def notify(session, *, recipients, event, title, body, link=None, fields=None):
        recorded.sent.append((event, list(recipients)))

    monkeypatch.setattr(notices, "notify", notify)
    return recorded


@dataclass
class People:
    member_id: uuid.UUID
    villager: dict[str, str]
    villager_id: uuid.UUID
    coordinator: dict[str, str]
    coordinator_id: uuid.UUID
    township_manager: dict[str, str]
    township_manager_id: uuid.UUID
    county_manager: dict[str, str]
    county_manager_id: uuid.UUID


async def bind_villager(db, make_user, member_id: uuid.UUID) -> UserAccount:
    user = await make_user(Role.villager)
    await db.execute(
        update(UserAccount).where(UserAccount.id == user.id).values(member_id=member_id)
    )
    await db.commit()
    return user


@pytest.fixture
async def people(db, settings, make_user, auth) -> People:
    _, (member,) = await make_household(db, settings, VILLAGE, [PersonSpec("韦强")])
    villager = await bind_villager(db, make_user, member.id)
    coordinator = await make_user(Role.coordinator, [VILLAGE])
    township = await make_user(Role.manager, [TOWNSHIP])
    county = await make_user(Role.manager, [COUNTY])
    return People(
        member_id=member.id,
        villager=auth(villager),
        villager_id=villager.id,
        coordinator=auth(coordinator),
        coordinator_id=coordinator.id,
        township_manager=auth(township),
        township_manager_id=township.id,
        county_manager=auth(county),
        county_manager_id=county.id,
    )
