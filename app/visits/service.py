"""Recording visits: idempotent by the phone's id, member updates in the same transaction."""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.caller import Principal
from app.core.pagination import PageRequest, newest_first, newest_first_key, next_cursor
from app.core.periods import current_period
from app.households import writer as members
from app.households.errors import HouseholdNotFound
from app.policy.values import ObservationSource
from app.visits.errors import MemberNotInHousehold, VisitIdConflict
from app.visits.models import Visit
from app.visits.schemas import VisitIn, VisitOut
from app.visits.writer import PendingVisit, VisitWriter


def visit_out(row: Mapping[str, Any] | asyncpg.Record) -> VisitOut:
    """A stored visit row (the driver's record, or a row mapping of `visit`) as answered."""
    lat, lon = row["lat"], row["lon"]
    return VisitOut.model_validate(
        {
            **{c: row[c] for c in VisitOut.model_fields if c != "location"},
            "location": {"lat": lat, "lon": lon} if lat is not None else None,
        }
    )


def pending_visit(principal: Principal, body: VisitIn) -> PendingVisit:
    """The upload as the writer takes it: the visit for its statement, and what it found as
    the member writer's rows (observed when the visit was made, in the month it was made)."""
    actor = principal.actor
    # The body as the model reads it (defaults filled in, fields in a fixed order): hashed to
    # recognise a retry, and read by the statement for the visit and the members named.
    sent = body.model_dump_json()
    digest = hashlib.sha256(sent.encode()).hexdigest()
    lows, highs = principal.scope.code_ranges()
    meta = {
        "coordinator_id": str(principal.id),
        "lows": lows,
        "highs": highs,
        "request_hash": digest,
        "actor_role": actor.role,
        "request_id": actor.request_id,
        "client_address": actor.client_address,
    }
    period = current_period(body.visited_at)
    return PendingVisit(
        id=body.id,
        household_id=body.household_id,
        request_hash=digest,
        payload=f'{{"meta":{json.dumps(meta)},"body":{sent}}}',
        employment=tuple(
            members.EmploymentWrite.of(
                actor, u.member_id, period, u.employment, ObservationSource.visit, body.visited_at
            )
            for u in body.member_updates
            if u.employment is not None
        ),
        intents=tuple(
            members.IntentWrite.of(
                actor, u.member_id, u.intent, ObservationSource.visit, body.visited_at
            )
            for u in body.member_updates
            if u.intent is not None
        ),
    )


async def record_visit(
    writer: VisitWriter, principal: Principal, body: VisitIn
) -> tuple[VisitOut, bool]:
    """The visit and whether it was created now (False: an identical retry).

    Written by `writer`, in one transaction with whichever uploads wait at the same moment:
    atomic for each visit, on its own or in a batch."""
    pending = pending_visit(principal, body)
    row = await writer.write(pending)
    if not row["household_found"]:
        raise HouseholdNotFound()
    if row["strangers"]:
        raise MemberNotInHousehold(
            "以下成员不属于该户：" + ", ".join(str(m) for m in sorted(row["strangers"]))
        )
    if row["id"] is None:  # a concurrent upload of this id committed after our snapshot
        row = await writer.stored(body.id)
    if not row["created"] and row["request_hash"] != pending.request_hash:
        raise VisitIdConflict("同一走访编号的内容与已保存的不同，请为新的走访生成新的编号")
    return visit_out(row), row["created"]


@dataclass(frozen=True, slots=True)
class VisitFilters:
    household_id: uuid.UUID | None = None
    coordinator_id: uuid.UUID | None = None
    visited_from: datetime | None = None
    visited_to: datetime | None = None
    needs_review: bool | None = None


async def list_visits(
    session: AsyncSession, principal: Principal, filters: VisitFilters, page: PageRequest
) -> tuple[list[VisitOut], str | None]:
    statement = select(Visit.__table__).where(principal.scope.region_filter(Visit.village_code))
    if filters.household_id:
        statement = statement.where(Visit.household_id == filters.household_id)
    if filters.coordinator_id:
        statement = statement.where(Visit.coordinator_id == filters.coordinator_id)
    if filters.visited_from:
        statement = statement.where(Visit.visited_at >= filters.visited_from)
    if filters.visited_to:
        statement = statement.where(Visit.visited_at < filters.visited_to)
    if filters.needs_review is not None:
        statement = statement.where(Visit.needs_review.is_(filters.needs_review))
    statement = newest_first(statement, Visit.visited_at, Visit.id, page)
    rows = list((await session.execute(statement)).mappings().all())
    rows, cursor = next_cursor(
        rows, page.limit, lambda v: newest_first_key(v["visited_at"], v["id"])
    )
    return [visit_out(v) for v in rows], cursor
