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

from app.core.caller import Actor, Principal
from app.core.pagination import PageRequest, newest_first, newest_first_key, next_cursor
from app.core.periods import current_period
from app.households.errors import HouseholdNotFound
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


async def record_visit(
    writer: VisitWriter, principal: Principal, actor: Actor, body: VisitIn
) -> tuple[VisitOut, bool]:
    """The visit and whether it was created now (False: an identical retry).

    Written by `writer`, in one statement (`write.RECORD_VISITS`) with whichever uploads wait
    at the same moment: atomic for each visit, on its own or in a batch."""
    # The body as the model reads it (defaults filled in, fields in a fixed order): hashed to
    # recognise a retry, and handed to the statement, which reads the visit from it.
    sent = body.model_dump_json()
    digest = hashlib.sha256(sent.encode()).hexdigest()
    lows, highs = principal.scope.code_ranges()
    meta = {
        "coordinator_id": str(principal.id),
        "lows": lows,
        "highs": highs,
        "request_hash": digest,
        "period": current_period(body.visited_at),
        "actor_role": actor.role,
        "request_id": actor.request_id,
        "client_address": actor.client_address,
    }
    row = await writer.write(
        PendingVisit(
            id=body.id,
            household_id=body.household_id,
            payload=f'{{"meta":{json.dumps(meta)},"body":{sent}}}',
        )
    )
    if not row["household_found"]:
        raise HouseholdNotFound()
    if row["strangers"]:
        raise MemberNotInHousehold(
            "以下成员不属于该户：" + ", ".join(str(m) for m in sorted(row["strangers"]))
        )
    if row["id"] is None:  # a concurrent upload of this id committed after our snapshot
        row = await writer.stored(body.id)
    if not row["created"] and row["request_hash"] != digest:
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
