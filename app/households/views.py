"""Turning registry rows into responses: PII decrypted only to be masked, latest month joined."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import select, true
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from app.core.crypto import PiiCipher, mask_id_number, mask_phone
from app.households.models import Member, MemberEmployment, MemberIntent
from app.households.schemas import EmploymentOut, IntentOut, MemberOut

ID_NUMBER_CIPHER = b"member.id_number"
PHONE_CIPHER = b"member.phone"


def employment_out(row: MemberEmployment) -> EmploymentOut:
    return EmploymentOut(
        period=row.period,
        status=row.status,  # type: ignore[arg-type]
        region=row.work_region,  # type: ignore[arg-type]
        channel=row.channel,  # type: ignore[arg-type]
        employer=row.employer,
        months=row.months,
        income=row.income,
        source=row.source,  # type: ignore[arg-type]
        observed_at=row.observed_at,
    )


def intent_out(row: MemberIntent) -> IntentOut:
    return IntentOut(
        intent=row.intent,  # type: ignore[arg-type]
        reason=row.reason,
        training_needs=list(row.training_needs or []),
        wanted_job_types=list(row.wanted_job_types or []),
        source=row.source,  # type: ignore[arg-type]
        observed_at=row.observed_at,
    )


async def members_out(
    session: AsyncSession, cipher: PiiCipher, members: Sequence[Member]
) -> list[MemberOut]:
    """Members with their latest employment and their intent: two queries for any number."""
    ids = [m.id for m in members]
    latest: dict[uuid.UUID, MemberEmployment] = {}
    intents: dict[uuid.UUID, MemberIntent] = {}
    if ids:
        # One round trip: each member's newest month (a lateral subquery walking the primary
        # key backwards) and their intent.
        newest = aliased(
            MemberEmployment,
            select(MemberEmployment)
            .where(MemberEmployment.member_id == Member.id)
            .order_by(MemberEmployment.period.desc())
            .limit(1)
            .lateral(),
        )
        rows = await session.execute(
            select(Member.id, newest, MemberIntent)
            .select_from(Member)
            .outerjoin(newest, true())
            .outerjoin(MemberIntent, MemberIntent.member_id == Member.id)
            .where(Member.id.in_(ids))
        )
        for member_id, employment, intent in rows:
            if employment is not None:
                latest[member_id] = employment
            if intent is not None:
                intents[member_id] = intent
    return [
        MemberOut(
            id=m.id,
            household_id=m.household_id,
            member_no=m.member_no,
            name=m.name,
            id_number=mask_id_number(cipher.decrypt(m.id_number_cipher, context=ID_NUMBER_CIPHER))
            or "",
            relation=m.relation,
            phone=mask_phone(cipher.decrypt(m.phone_cipher, context=PHONE_CIPHER))
            if m.phone_cipher
            else None,
            labour_type=m.labour_type,  # type: ignore[arg-type]
            skills=list(m.skills or []),
            in_school=m.in_school,
            disability=m.disability,
            version=m.version,
            employment=employment_out(latest[m.id]) if m.id in latest else None,
            intent=intent_out(intents[m.id]) if m.id in intents else None,
        )
        for m in members
    ]
