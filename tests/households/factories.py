"""Arranging registry data for tests through the ORM (bulk seeding has its own tests), and
concurrent writes of it."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Awaitable
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import text

from app.core.crypto import ID_NUMBER_INDEX, PHONE_INDEX, PiiCipher
from app.households.id_number import check_digit
from app.households.models import Household, Member
from app.households.views import ID_NUMBER_CIPHER, PHONE_CIPHER

_serial = itertools.count(1)
T = TypeVar("T")


def synthetic_id_number(birth: str = "19850614") -> str:
    first17 = f"450226{birth}{next(_serial) % 1000:03d}"
    return first17 + check_digit(first17)


@dataclass
class PersonSpec:
    name: str
    relation: str = "户主"
    labour_type: str = "普通劳动力"
    phone: str | None = None
    id_number: str | None = None


async def make_household(
    session,
    settings,
    village: str,
    people: list[PersonSpec] | None = None,
    *,
    category: str = "脱贫户",
    household_no: str | None = None,
) -> tuple[Household, list[Member]]:
    cipher = PiiCipher.from_settings(settings)
    serial = next(_serial)
    household = Household(
        household_no=household_no or f"{village}{serial:05d}",
        village_code=village,
        category=category,
        risk_types=[],
    )
    session.add(household)
    await session.flush()
    members = []
    for index, person in enumerate(people or [PersonSpec("张三")]):
        id_number = person.id_number or synthetic_id_number()
        member = Member(
            household_id=household.id,
            member_no=f"{household.household_no}-{index + 1:02d}",
            name=person.name,
            id_number_cipher=cipher.encrypt(id_number, context=ID_NUMBER_CIPHER),
            id_number_index=cipher.blind_index(id_number, context=ID_NUMBER_INDEX),
            phone_cipher=cipher.encrypt(person.phone, context=PHONE_CIPHER)
            if person.phone
            else None,
            phone_index=cipher.blind_index(person.phone, context=PHONE_INDEX)
            if person.phone
            else None,
            relation=person.relation,
            labour_type=person.labour_type,
            skills=[],
        )
        session.add(member)
        members.append(member)
    await session.flush()
    await session.commit()
    return household, members


async def inserting_at_once(app: Any, table: str, *writes: Awaitable[T]) -> list[T]:
    """Runs `writes` (requests) together so that their INSERTs into `table` start at the same
    moment: a SHARE lock on the table lets them read it, FOR UPDATE too, but holds every INSERT
    until all of them are waiting to insert (pg_locks is live: the lock's holder sees them
    queue). Answers their results, in order."""
    waiting = text(
        "SELECT count(*) FROM pg_locks WHERE NOT granted AND relation = CAST(:table AS regclass)"
    )
    async with app.state.db.engine.connect() as blocker:
        await blocker.execute(text(f"LOCK TABLE {table} IN SHARE MODE"))
        together = asyncio.gather(*writes)
        for _ in range(500):
            if (await blocker.execute(waiting, {"table": table})).scalar_one() >= len(writes):
                break
            await asyncio.sleep(0.02)
        else:
            together.cancel()
            raise AssertionError(f"the writes never all waited to insert into {table}")
        await blocker.rollback()
        return list(await together)
